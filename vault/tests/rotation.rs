//! Key rotation over a real vault: rewrapping, resuming, retiring, and running vaults that see
//! the key file change under them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schema::{ObjectKey, ObjectRecord};
use sqlx::Connection as _;
use vault::keyring::UpdateLock;
use vault::rotate::{RotateOptions, rotate_key};
use vault::{Keyring, Vault, VaultError};

use common::{TestVault, data, read_all, test_vault};

const SEG: u32 = 64;

fn no_grace() -> RotateOptions {
    RotateOptions {
        batch_size: 3, // several batches over a handful of rows
        grace: Duration::ZERO,
        abort_after: None,
    }
}

fn keyring_path(t: &TestVault) -> PathBuf {
    t.dir.path().join("keyring.json")
}

/// A vault over the same store, database and key file, as a restarted process would open it.
fn reopened(t: &TestVault) -> Vault {
    let keyring = Keyring::load(&keyring_path(t)).unwrap();
    Vault::local(&t.root, t.repo.clone(), keyring).unwrap()
}

async fn usage(t: &TestVault) -> BTreeMap<String, i64> {
    t.repo.kek_usage().await.unwrap().into_iter().collect()
}

/// Stores `count` objects; returns their keys and contents.
async fn fill(t: &TestVault, count: usize) -> Vec<(ObjectKey, Vec<u8>)> {
    let mut objects = Vec::new();
    for i in 0..count {
        let content = data(50 + 37 * i);
        objects.push((t.put_kept(&content).await, content));
    }
    objects
}

async fn assert_all_readable(vault: &Vault, objects: &[(ObjectKey, Vec<u8>)]) {
    for (key, content) in objects {
        assert_eq!(&read_all(vault, key).await.unwrap(), content, "{key}");
    }
}

#[tokio::test]
async fn rotation_rewraps_every_row_and_retires_the_old_key_without_touching_content() {
    let t = test_vault(SEG).await;
    let objects = fill(&t, 8).await;
    let old = t.vault.keyring().current_id().to_owned();
    let blobs: Vec<Vec<u8>> = objects
        .iter()
        .map(|(key, _)| std::fs::read(t.blob(key)).unwrap())
        .collect();
    let rows_before: Vec<ObjectRecord> =
        futures_util::future::join_all(objects.iter().map(|(key, _)| t.repo.object(key)))
            .await
            .into_iter()
            .map(|row| row.unwrap().unwrap())
            .collect();

    let report = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert!(report.created && report.is_complete(), "{report}");
    assert_ne!(report.current, old);
    assert_eq!(report.rewrapped, 8);
    assert_eq!(report.retired, [old.as_str()]);
    assert_eq!(
        usage(&t).await,
        BTreeMap::from([(report.current.clone(), 8)])
    );
    let ring = Keyring::load(&keyring_path(&t)).unwrap();
    assert_eq!(ring.ids().collect::<Vec<_>>(), [report.current.as_str()]);

    for ((key, _), (blob, before)) in objects.iter().zip(blobs.iter().zip(&rows_before)) {
        assert_eq!(
            &std::fs::read(t.blob(key)).unwrap(),
            blob,
            "content untouched"
        );
        let after = t.repo.object(key).await.unwrap().unwrap();
        assert_ne!(after.wrapped_dek, before.wrapped_dek);
        assert_eq!((after.size, &after.sha1), (before.size, &before.sha1));
    }
    // The running vault (which loaded the old ring) and a restarted one both read everything.
    assert_all_readable(&t.vault, &objects).await;
    assert_all_readable(&reopened(&t), &objects).await;
    // New uploads go under the new key.
    let fresh = t.put_kept(b"after rotation").await;
    assert_eq!(
        t.repo.object(&fresh).await.unwrap().unwrap().kek_id,
        report.current
    );

    // Running it again is a new rotation.
    let again = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert!(again.created && again.is_complete(), "{again}");
    assert_eq!(
        (again.rewrapped, &again.retired),
        (9, &vec![report.current])
    );
    assert_all_readable(&t.vault, &objects).await;
}

#[tokio::test]
async fn an_unfinished_rotation_is_resumed_not_restarted() {
    let t = test_vault(SEG).await;
    let objects = fill(&t, 5).await;
    let old = t.vault.keyring().current_id().to_owned();
    // What a crash after two rewraps leaves: a second key, current, and a mix of rows.
    let new = {
        let lock = UpdateLock::acquire(&keyring_path(&t)).unwrap();
        let mut ring = Keyring::load(&keyring_path(&t)).unwrap();
        let new = ring.add_current_key(&lock).unwrap();
        ring.save(&lock).unwrap();
        for (key, _) in &objects[..2] {
            let row = t.repo.object(key).await.unwrap().unwrap();
            let data_key = ring.unwrap(&row.kek_id, &row.wrapped_dek, key).unwrap();
            let (id, wrapped) = ring.wrap(&data_key, key).unwrap();
            assert!(
                t.repo
                    .rewrap_object(key, &old, &id, &wrapped)
                    .await
                    .unwrap()
            );
        }
        new
    };
    assert_eq!(
        usage(&t).await,
        BTreeMap::from([(old.clone(), 3), (new.clone(), 2)])
    );
    assert_all_readable(&reopened(&t), &objects).await;

    let report = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert!(!report.created && report.is_complete(), "{report}");
    assert_eq!(
        (&report.current, report.rewrapped, &report.retired),
        (&new, 3, &vec![old])
    );
    assert_all_readable(&reopened(&t), &objects).await;

    // A crash after the last rewrap but before retirement: the re-run only retires.
    let newest = crash_after_rewrapping(&t, &objects).await;
    let report = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert!(!report.created && report.is_complete(), "{report}");
    assert_eq!(
        (&report.current, report.rewrapped, &report.retired),
        (&newest, 0, &vec![new])
    );
    assert_all_readable(&reopened(&t), &objects).await;
}

/// Adds a current key and rewraps every row under it, as a rotation that crashed just before
/// retiring would have.
async fn crash_after_rewrapping(t: &TestVault, objects: &[(ObjectKey, Vec<u8>)]) -> String {
    let lock = UpdateLock::acquire(&keyring_path(t)).unwrap();
    let mut ring = Keyring::load(&keyring_path(t)).unwrap();
    let newest = ring.add_current_key(&lock).unwrap();
    ring.save(&lock).unwrap();
    for (key, _) in objects {
        let row = t.repo.object(key).await.unwrap().unwrap();
        let data_key = ring.unwrap(&row.kek_id, &row.wrapped_dek, key).unwrap();
        let (id, wrapped) = ring.wrap(&data_key, key).unwrap();
        assert!(
            t.repo
                .rewrap_object(key, &row.kek_id, &id, &wrapped)
                .await
                .unwrap()
        );
    }
    newest
}

#[tokio::test]
async fn a_second_rotation_at_the_same_time_is_refused() {
    let t = test_vault(SEG).await;
    fill(&t, 1).await;
    let _held = UpdateLock::acquire(&keyring_path(&t)).unwrap();
    let error = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap_err();
    assert!(
        matches!(error, VaultError::RotationRunning { .. }),
        "{error:?}"
    );
    assert_eq!(
        Keyring::load(&keyring_path(&t)).unwrap().ids().count(),
        1,
        "the refused run changed nothing"
    );
}

#[tokio::test]
async fn rows_that_cannot_be_unwrapped_are_reported_and_left_alone() {
    let t = test_vault(SEG).await;
    let objects = fill(&t, 4).await;
    let broken = ObjectRecord {
        key: ObjectKey::random(),
        kek_id: "lost-key".into(),
        wrapped_dek: vec![1; 60],
        size: Some(1),
        sha1: Some("00".repeat(20)),
        created_at: chrono::Utc::now(),
    };
    t.repo.insert_object(&broken).await.unwrap();
    let report = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert_eq!(report.rewrapped, 4);
    assert_eq!(report.stuck, std::slice::from_ref(&broken.key));
    assert!(!report.is_complete());
    assert!(report.to_string().contains("1 rows could not be rewrapped"));
    let row = t.repo.object(&broken.key).await.unwrap().unwrap();
    assert_eq!(
        (&row.kek_id, &row.wrapped_dek),
        (&broken.kek_id, &broken.wrapped_dek),
        "left as it was"
    );
    assert_all_readable(&reopened(&t), &objects).await;
}

/// The race the retirement step must survive: a running vault wraps a new upload's data key
/// under the old KEK, then a whole rotation runs (it sees no row under the old KEK and retires
/// it), and only then does the upload's row land. The vault must notice and rewrap its own row,
/// or the document would be unreadable after its next restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_wrapped_under_a_key_retired_before_its_row_landed_stays_readable() {
    let t = test_vault(SEG).await;
    let old = t.vault.keyring().current_id().to_owned();
    // Hold SQLite's write lock so the upload's row insert waits (busy timeout: 5 s).
    let url = format!("sqlite:{}", t.dir.path().join("sealpost.db").display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let vault = t.vault.clone();
    let content = data(1000);
    let upload_content = content.clone();
    let upload = tokio::spawn(async move {
        vault
            .put(common::body(&upload_content, 100), u64::MAX)
            .await
    });
    // The upload has wrapped its data key (under `old`) and waits to insert its row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!upload.is_finished());

    let report = rotate_key(t.repo.as_ref(), &keyring_path(&t), &no_grace())
        .await
        .unwrap();
    assert_eq!((report.rewrapped, &report.retired), (0, &vec![old.clone()]));
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let pending = upload.await.unwrap().unwrap();
    let key = pending.key().clone();
    pending.keep();
    let row = t.repo.object(&key).await.unwrap().unwrap();
    assert_eq!(row.kek_id, report.current, "the vault moved its own row");
    assert!(!Keyring::load(&keyring_path(&t)).unwrap().contains(&old));
    assert_eq!(read_all(&reopened(&t), &key).await.unwrap(), content);
}
