//! The vault on a real S3-protocol server (issue 19, items 1 and 3): the moto server that
//! `scripts/test` starts (`SEALPOST_TEST_S3_ENDPOINT`, the `AWS_*` variables beside it). Every
//! test makes a bucket of its own and looks at it with unsigned requests (moto accepts them):
//! `GET ?list-type=2` for the objects, `GET ?uploads` for the pending multipart uploads
//! (`ListMultipartUploads`, which `object_store` does not offer).
//!
//! - `store`: round trips across several 5 MiB parts, ranges, delete, clean failures, the
//!   sweep of unknown blobs, a prefix;
//! - `crash`: `kill -9` of a real `vault` process mid-upload, then the restart's sweep;
//! - `shared_keys`: two vault servers over one key file while a rotation runs.

mod crash;
mod shared_keys;
mod store;

use std::path::Path;
use std::sync::Arc;

use futures_util::TryStreamExt as _;
use shared::config::Settings;
use tempfile::TempDir;

use crate::common::{Db, FreshDatabase};

/// The S3 server's endpoint; without it the test fails (it never passes on nothing).
pub fn endpoint() -> String {
    std::env::var("SEALPOST_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "SEALPOST_TEST_S3_ENDPOINT is not set: run the S3 tests with scripts/test \
             (it starts the S3 server and exports the AWS_* variables)"
        )
    })
}

/// Creates a bucket of this test's own (`hint` plus a unique suffix) and returns its name.
pub async fn new_bucket(hint: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let bucket = format!("{hint}-{:x}-{nanos:x}", std::process::id());
    let response = reqwest::Client::new()
        .put(format!("{}/{bucket}", endpoint()))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "creating bucket {bucket}: {response:?}"
    );
    bucket
}

/// The `<Key>` values of an S3 XML listing.
pub fn keys_in(xml: &str) -> Vec<String> {
    xml.split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect()
}

async fn listing(bucket: &str, query: &str) -> Vec<String> {
    let response = reqwest::get(format!("{}/{bucket}?{query}", endpoint()))
        .await
        .unwrap();
    assert!(response.status().is_success(), "{query}: {response:?}");
    keys_in(&response.text().await.unwrap())
}

/// The keys of every object in `bucket`.
pub async fn objects(bucket: &str) -> Vec<String> {
    listing(bucket, "list-type=2").await
}

/// The keys of every pending (neither completed nor aborted) multipart upload in `bucket`.
pub async fn pending_uploads(bucket: &str) -> Vec<String> {
    listing(bucket, "uploads").await
}

/// A vault on the S3 server (`store_url`), with its own database and key file.
pub struct S3Vault {
    pub vault: vault::Vault,
    pub repo: Arc<dyn schema::Repository>,
    _database: FreshDatabase,
    _dir: TempDir,
}

impl S3Vault {
    pub async fn open(db: Db, store_url: &str) -> Self {
        endpoint();
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        let database = db.fresh_database(&data_dir).await;
        let overrides = [
            ("data_dir", data_dir.display().to_string()),
            ("database.url", database.to_string()),
            ("vault.store_url", store_url.to_owned()),
        ];
        let settings =
            Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides).unwrap();
        let repo = schema::connect(&settings.database_url()).await.unwrap();
        let keyring =
            vault::Keyring::load_or_create(&data_dir.join(vault::standalone::KEYRING_FILE))
                .unwrap();
        let vault = vault::standalone::open_vault(&settings, repo.clone(), keyring).unwrap();
        Self {
            vault,
            repo,
            _database: database,
            _dir: dir,
        }
    }

    /// Object rows in the database, whatever their state.
    pub async fn rows(&self) -> i64 {
        let usage = self.repo.kek_usage().await.unwrap();
        usage.iter().map(|(_, rows)| rows).sum()
    }
}

/// The whole plaintext of a reader.
pub async fn read_all(reader: vault::ObjectReader) -> Vec<u8> {
    let chunks: Vec<bytes::Bytes> = reader.stream.try_collect().await.unwrap();
    chunks.concat()
}

/// `content` as an upload body of `chunk`-byte pieces.
pub fn body(
    content: &[u8],
    chunk: usize,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin + use<> {
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = content
        .chunks(chunk.max(1))
        .map(|piece| Ok(bytes::Bytes::copy_from_slice(piece)))
        .collect();
    futures_util::stream::iter(pieces)
}

#[test]
fn reads_keys_from_an_s3_listing() {
    let xml = "<ListMultipartUploadsResult><KeyMarker></KeyMarker><Upload><Key>a/b</Key>\
               <UploadId>x</UploadId></Upload><Upload><Key>c</Key></Upload></ListMultipartUploadsResult>";
    assert_eq!(keys_in(xml), ["a/b", "c"]);
    assert!(keys_in("<ListBucketResult></ListBucketResult>").is_empty());
}
