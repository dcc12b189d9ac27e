//! Failed, abandoned and unkept uploads, deletion and the sweep leave nothing behind.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use schema::{ObjectKey, ObjectRecord};
use vault::{SweepReport, Vault, VaultError};

use common::{TestVault, body, data, eventually, read_all, test_vault};

const SEG: u32 = 64;

/// Waits until no object row and no file in the store are left.
async fn assert_cleaned_up(t: &TestVault) {
    for _ in 0..1000 {
        if t.object_rows().await.is_empty() && t.store_files().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "left behind: rows {:?}, files {:?}",
        t.object_rows().await,
        t.store_files()
    );
}

#[tokio::test]
async fn a_failing_body_leaves_nothing() {
    let t = test_vault(SEG).await;
    let chunks = vec![
        Ok(Bytes::from(data(500))),
        Ok(Bytes::from(data(500))),
        Err(std::io::Error::other("client went away")),
    ];
    let error = t
        .vault
        .put(stream::iter(chunks), u64::MAX)
        .await
        .unwrap_err();
    assert!(matches!(error, VaultError::Source(_)), "{error:?}");
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "client went away"
    );
    // Cleaned up before `put` returned.
    assert!(t.object_rows().await.is_empty());
    assert!(t.store_files().is_empty(), "{:?}", t.store_files());
}

#[tokio::test]
async fn an_oversized_body_leaves_nothing() {
    let t = test_vault(SEG).await;
    let error = t.vault.put(body(&data(1000), 100), 999).await.unwrap_err();
    assert!(
        matches!(error, VaultError::TooLarge { limit: 999 }),
        "{error:?}"
    );
    assert!(t.object_rows().await.is_empty());
    assert!(t.store_files().is_empty());
    // Exactly the limit is fine.
    let pending = t.vault.put(body(&data(1000), 100), 1000).await.unwrap();
    assert_eq!(pending.size(), 1000);
    pending.keep();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_upload_cleans_up_after_itself() {
    let t = test_vault(SEG).await;
    // Some bytes, then a client that never sends more nor hangs up.
    let stalled = body(&data(10_000), 1000).chain(stream::pending());
    let vault = t.vault.clone();
    let upload = tokio::spawn(async move { vault.put(stalled, u64::MAX).await });
    let root = t.root.clone();
    eventually("the staging file", move || {
        let root = root.clone();
        async move {
            common::files_under(&root)
                .iter()
                .any(|f| f.to_string_lossy().ends_with("#1"))
        }
    })
    .await;
    assert_eq!(t.object_rows().await.len(), 1);
    upload.abort(); // drops the `put` future midway
    assert!(upload.await.unwrap_err().is_cancelled());
    assert_cleaned_up(&t).await;
}

#[tokio::test]
async fn an_unkept_object_is_deleted_a_kept_one_stays() {
    let t = test_vault(SEG).await;
    let kept = t.put_kept(b"kept").await;
    let unkept = t.put(b"dropped").await;
    let unkept_key = unkept.key().clone();
    assert!(t.blob(&unkept_key).exists());
    drop(unkept);
    let (vault, key) = (t.vault.clone(), unkept_key.clone());
    eventually("the unkept row to go", move || {
        let (vault, key) = (vault.clone(), key.clone());
        async move { matches!(vault.read(&key).await, Err(VaultError::NotFound)) }
    })
    .await;
    let blob = t.blob(&unkept_key);
    eventually("the unkept blob to go", move || {
        let blob = blob.clone();
        async move { !blob.exists() }
    })
    .await;
    assert_eq!(read_all(&t.vault, &kept).await.unwrap(), b"kept");
    assert_eq!(t.object_rows().await, [kept]);
}

#[tokio::test]
async fn delete_shreds_the_key_first() {
    let t = test_vault(SEG).await;
    let key = t.put_kept(b"to be deleted").await;
    let copy = fs::read(t.blob(&key)).unwrap();
    t.vault.delete(&key).await.unwrap();
    assert!(!t.blob(&key).exists());
    assert!(t.object_rows().await.is_empty());
    // A surviving copy of the ciphertext is useless once the row is gone.
    fs::write(t.blob(&key), &copy).unwrap();
    assert!(matches!(
        t.vault.read(&key).await,
        Err(VaultError::NotFound)
    ));
    // Deleting again, or a blob that is not there, is fine.
    t.vault.delete(&key).await.unwrap();
    t.vault.delete_blob(&key).await.unwrap();

    let other = t.put_kept(b"blob only").await;
    t.vault.delete_blob(&other).await.unwrap();
    assert!(!t.blob(&other).exists());
    assert_eq!(t.object_rows().await, [other]);
}

/// Writes a file under the store root with the given age.
fn write_aged(path: &std::path::Path, age: Duration) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"leftover").unwrap();
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn sweep_removes_orphans_unknown_blobs_and_staging_files() {
    let t = test_vault(SEG).await;
    let hour = Duration::from_secs(3600);
    let young = t.put_kept(b"young").await;
    assert_eq!(t.vault.sweep(hour).await.unwrap(), SweepReport::default());
    assert_eq!(read_all(&t.vault, &young).await.unwrap(), b"young");

    // What a kill -9 mid-upload leaves: a pending row and a staging file.
    let crashed = ObjectKey::random();
    let record = ObjectRecord {
        key: crashed.clone(),
        kek_id: t.vault.keyring().current_id().to_owned(),
        wrapped_dek: vec![0; 60],
        size: None,
        sha1: None,
        created_at: chrono::Utc::now() - chrono::TimeDelta::hours(2),
    };
    t.repo.insert_object(&record).await.unwrap();
    let staging = |key: &ObjectKey| t.root.join(format!("{}#1", Vault::location(key).as_ref()));
    write_aged(&staging(&crashed), 2 * hour);
    // A live upload's staging file, and files that are not the vault's.
    let live = ObjectKey::random();
    write_aged(&staging(&live), Duration::ZERO);
    let foreign = t.root.join("objects").join("README");
    write_aged(&foreign, 2 * hour);
    // A blob whose row is gone.
    let unknown = ObjectKey::random();
    write_aged(&t.blob(&unknown), Duration::ZERO);

    let report = t.vault.sweep(hour).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            orphan_objects: 1,
            unknown_blobs: 1,
            staging_files: 1
        }
    );
    assert!(!staging(&crashed).exists() && !t.blob(&unknown).exists());
    assert!(staging(&live).exists() && foreign.exists());
    assert_eq!(t.object_rows().await, std::slice::from_ref(&young));
    assert_eq!(read_all(&t.vault, &young).await.unwrap(), b"young");

    // With no grace, the kept but unreferenced object is an orphan too.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = t.vault.sweep(Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            orphan_objects: 1,
            unknown_blobs: 0,
            staging_files: 1
        }
    );
    assert!(!t.blob(&young).exists() && !staging(&live).exists());
    assert!(t.object_rows().await.is_empty());
    assert_eq!(t.store_files(), [foreign]);
}

#[tokio::test]
async fn the_futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let t = test_vault(SEG).await;
    assert_send(t.vault.put(body(b"x", 1), 1));
    assert_send(t.vault.read(&ObjectKey::random()));
    assert_send(t.vault.sweep(Duration::ZERO));
}
