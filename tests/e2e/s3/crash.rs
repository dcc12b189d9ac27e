//! Uploads interrupted on S3, through a real `vault` process: a client that goes away
//! mid-upload leaves nothing once the vault noticed; after a `kill -9` of the vault the
//! multipart upload it leaves pending is aborted, and its row deleted, by the restarted vault's
//! start-up sweep.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use schema::ObjectKey;
use vault::internal::{RemoteVault, ServiceCredential};

use super::{new_bucket, objects, pending_uploads};
use crate::common::{Db, on_both_databases, pseudo_random};

on_both_databases!(
    an_abandoned_upload_leaves_nothing,
    a_killed_upload_is_aborted_by_the_restarts_sweep
);

/// A `vault` process on S3, configured through the environment only.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    fn start(data_dir: &Path, database_url: &str, store_url: &str) -> Self {
        let handle_key = URL_SAFE_NO_PAD.encode(pseudo_random(32, 1));
        let log = std::fs::File::create(data_dir.with_extension("vault.log")).unwrap();
        let mut child = Command::new(crate::service_binaries::binary("vault"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("SEALPOST__DATABASE__URL", database_url)
            .env("SEALPOST__WORKERS", "1")
            .env("SEALPOST__VAULT__HANDLE_PUBLIC_KEYS", handle_key)
            .env("SEALPOST__VAULT__STORE_URL", store_url)
            // Anything older than a second is an orphan to the start-up sweep.
            .env("SEALPOST__VAULT__ORPHAN_GRACE_SECS", "1")
            .current_dir(data_dir.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let url = crate::service_binaries::wait_for_banner(
            &mut child,
            "Vault",
            &data_dir.with_extension("vault.log"),
        );
        let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
        Self { child, addr }
    }

    fn client(&self, data_dir: &Path) -> RemoteVault {
        let token = data_dir.join(vault::internal::credential::SERVICE_TOKEN_FILE);
        let credential = ServiceCredential::load(&token, false).unwrap();
        RemoteVault::new(&format!("http://{}", self.addr), credential).unwrap()
    }

    /// `kill -9`: no clean-up of any kind.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Starts an upload through `client` that sends six MiB (one part goes out) and then never
/// ends; returns its task and the object's key once the vault recorded the upload's id.
async fn start_endless_upload(
    client: RemoteVault,
    repo: &dyn schema::Repository,
) -> (tokio::task::JoinHandle<()>, ObjectKey) {
    let first = bytes::Bytes::from(pseudo_random(6 << 20, 2));
    let endless = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
        .chain(futures_util::stream::pending());
    let upload = tokio::spawn(async move {
        let _ = client.put(Box::pin(endless), u64::MAX).await;
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let far = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        if let Some(key) = repo.orphan_objects(far).await.unwrap().first()
            && repo.object_upload(key).await.unwrap().is_some()
        {
            return (upload, key.clone());
        }
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A test's bucket, data directory and database.
async fn setup(db: Db, hint: &str) -> (String, tempfile::TempDir, crate::common::FreshDatabase) {
    let bucket = new_bucket(hint).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let database = db.fresh_database(&dir.path().join("data")).await;
    (bucket, dir, database)
}

async fn an_abandoned_upload_leaves_nothing(db: Db) {
    let (bucket, dir, database) = setup(db, "abandoned").await;
    let data_dir = dir.path().join("data");
    let repo = schema::connect(&database).await.unwrap();
    let vault = Process::start(&data_dir, &database, &format!("s3://{bucket}"));
    let (upload, key) = start_endless_upload(vault.client(&data_dir), repo.as_ref()).await;
    assert_eq!(pending_uploads(&bucket).await.len(), 1);
    // The client goes away: its connection closes mid-body.
    upload.abort();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending_uploads(&bucket).await.is_empty() || repo.object(&key).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the abandoned upload is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
    vault.kill();
}

async fn a_killed_upload_is_aborted_by_the_restarts_sweep(db: Db) {
    let (bucket, dir, database) = setup(db, "crash").await;
    let data_dir = dir.path().join("data");
    let store_url = format!("s3://{bucket}/vault");
    let repo = schema::connect(&database).await.unwrap();

    let vault = Process::start(&data_dir, &database, &store_url);
    let (upload, key) = start_endless_upload(vault.client(&data_dir), repo.as_ref()).await;
    let key = &key;
    vault.kill();
    upload.abort();
    let pending = pending_uploads(&bucket).await;
    assert_eq!(
        pending.len(),
        1,
        "the crash left a pending upload: {pending:?}"
    );
    assert!(pending[0].starts_with("vault/objects/") && pending[0].ends_with(key.as_str()));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let restarted = Process::start(&data_dir, &database, &store_url);
    assert_eq!(pending_uploads(&bucket).await, Vec::<String>::new());
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
    assert_eq!(repo.object(key).await.unwrap(), None, "the row is gone");
    restarted.kill();
}
