//! Test helpers: a real vault over a temporary directory (local object store, SQLite, keyring).
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt as _, stream};
use schema::{ObjectKey, Repository};
use sha1::{Digest as _, Sha1};
use tempfile::TempDir;
use vault::{Keyring, Vault, VaultError};

pub struct TestVault {
    pub dir: TempDir,
    pub vault: Vault,
    pub repo: Arc<dyn Repository>,
    /// Root directory of the local object store.
    pub root: PathBuf,
}

pub async fn test_vault(segment_size: u32) -> TestVault {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
    let repo = schema::connect(&url).await.unwrap();
    let keyring = Keyring::load_or_create(&dir.path().join("keyring.json")).unwrap();
    let root = dir.path().join("store");
    let vault = Vault::local(&root, repo.clone(), keyring)
        .unwrap()
        .with_segment_size(segment_size)
        .unwrap();
    let root = root.canonicalize().unwrap();
    TestVault {
        dir,
        vault,
        repo,
        root,
    }
}

impl TestVault {
    /// The file holding an object's ciphertext.
    pub fn blob(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(Vault::location(key).as_ref())
    }

    /// Every file under the store root.
    pub fn store_files(&self) -> Vec<PathBuf> {
        files_under(&self.root)
    }

    /// Every object row (none is referenced by a document in these tests).
    pub async fn object_rows(&self) -> Vec<ObjectKey> {
        let future = chrono::Utc::now() + chrono::TimeDelta::days(1);
        self.repo.orphan_objects(future).await.unwrap()
    }

    pub async fn put(&self, data: &[u8]) -> vault::PendingObject {
        self.vault.put(body(data, 1000), u64::MAX).await.unwrap()
    }

    /// Stores `data` and keeps it.
    pub async fn put_kept(&self, data: &[u8]) -> ObjectKey {
        let pending = self.put(data).await;
        let key = pending.key().clone();
        pending.keep();
        key
    }
}

/// A body of `data` in chunks of `chunk` bytes.
pub fn body(
    data: &[u8],
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + 'static {
    let chunks: Vec<_> = data
        .chunks(chunk.max(1))
        .map(Bytes::copy_from_slice)
        .map(Ok)
        .collect();
    stream::iter(chunks)
}

/// Reads a whole object; `Err` when opening or any stream item fails.
pub async fn read_all(vault: &Vault, key: &ObjectKey) -> Result<Vec<u8>, VaultError> {
    let reader = vault.read(key).await?;
    let chunks: Vec<Bytes> = reader.stream.try_collect().await?;
    Ok(chunks.concat())
}

pub async fn read_range(
    vault: &Vault,
    key: &ObjectKey,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, VaultError> {
    let reader = vault.read_range(key, start, end).await?;
    let chunks: Vec<Bytes> = reader.stream.try_collect().await?;
    Ok(chunks.concat())
}

pub fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

pub fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Polls `condition` until it holds, for up to 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..1000 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}
