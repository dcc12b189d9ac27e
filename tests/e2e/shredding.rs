//! Crypto-shredding: once a document is deleted, a copy of its stored object taken earlier can
//! no longer be decrypted with anything the instance still holds.

use std::path::Path;

use schema::{DocumentId, ObjectKey, ObjectRecord, Repository};
use sealpost::instance::{DATABASE_FILE, KEYRING_FILE, OBJECTS_DIR};
use vault::cipher::{CipherError, HEADER_LEN, Header, KEY_LEN, SegmentDecryptor, TAG_LEN};
use vault::{Keyring, Vault};

use crate::common::{Db, TestApp, on_both_databases, pseudo_random};

on_both_databases!(a_deleted_documents_saved_ciphertext_cannot_be_decrypted);

/// Decrypts a whole stored object in memory with `data_key` (the vault's own format: header,
/// then segments, the last one flagged).
pub fn decrypt_object(data_key: &[u8; KEY_LEN], stored: &[u8]) -> Result<Vec<u8>, CipherError> {
    let header = Header::parse(stored)?;
    let decryptor = SegmentDecryptor::new(data_key, header)?;
    let body = &stored[HEADER_LEN.min(stored.len())..];
    let count = header.segment_count(stored.len() as u64)?;
    let stride = header.segment_size() as usize + TAG_LEN;
    let mut plaintext = Vec::new();
    for (index, segment) in body.chunks(stride).enumerate() {
        let index = index as u64;
        plaintext.extend(decryptor.decrypt(index, index + 1 == count, segment)?);
    }
    Ok(plaintext)
}

/// Every object row in the database, whatever its key-encryption key.
async fn all_object_rows(repo: &dyn Repository) -> Vec<ObjectRecord> {
    repo.objects_not_under("", u32::MAX).await.unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The raw SQLite files (database and write-ahead log, when present).
fn sqlite_files(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let name = format!("{DATABASE_FILE}{suffix}");
            std::fs::read(data_dir.join(&name))
                .ok()
                .map(|bytes| (name, bytes))
        })
        .collect()
}

async fn a_deleted_documents_saved_ciphertext_cannot_be_decrypted(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let content = pseudo_random(150_000, 7); // three segments
    let victim = app.upload(&token, "victim.pdf", content.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..3 {
        app.upload(&token, "other.pdf", pseudo_random(1000 + i, i as u64))
            .await;
    }
    let data_dir = app.data_dir();
    let repo = schema::connect(&app.settings.database_url()).await.unwrap();
    let document = repo
        .document_by_id(&DocumentId::parse(&victim).unwrap())
        .await
        .unwrap()
        .unwrap();
    let key: ObjectKey = document.object_key;
    let row = repo.object(&key).await.unwrap().unwrap();
    let blob_path = data_dir
        .join(OBJECTS_DIR)
        .join(Vault::location(&key).as_ref());
    let saved_copy = std::fs::read(&blob_path).unwrap();

    // Before deletion, the saved copy opens with what the instance holds: the test can fail.
    let keyring = Keyring::load(&data_dir.join(KEYRING_FILE)).unwrap();
    let data_key = keyring.unwrap(&row.kek_id, &row.wrapped_dek, &key).unwrap();
    assert_eq!(decrypt_object(&data_key, &saved_copy).unwrap(), content);

    let response = app
        .delete(&token, &format!("/documents/{victim}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    // The row holding the wrapped data key is gone the moment DELETE answered.
    assert!(repo.object(&key).await.unwrap().is_none());
    let remaining = all_object_rows(repo.as_ref()).await;
    assert_eq!(remaining.len(), 3);
    // Everything that remains — every other row's wrapped key under every KEK in the ring —
    // fails to yield a key that opens the saved copy.
    let keyring = Keyring::load(&data_dir.join(KEYRING_FILE)).unwrap();
    let mut unwrapped_own = 0;
    for other in &remaining {
        assert_ne!(other.wrapped_dek, row.wrapped_dek);
        for kek_id in keyring.ids() {
            assert!(keyring.unwrap(kek_id, &other.wrapped_dek, &key).is_err());
            // Under its own object's binding it may unwrap (it is a live document's key), but
            // that key does not open the deleted object.
            if let Ok(other_key) = keyring.unwrap(kek_id, &other.wrapped_dek, &other.key) {
                unwrapped_own += 1;
                assert!(decrypt_object(&other_key, &saved_copy).is_err());
            }
        }
    }
    assert_eq!(
        unwrapped_own, 3,
        "the check above really unwrapped live keys"
    );

    if db == Db::Sqlite {
        // While the instance still runs: each delete checkpoints and truncates the write-ahead
        // log in the background, so the pre-delete page image with the key goes from the live
        // files within moments, not only at a clean stop.
        let wal = data_dir.join(format!("{DATABASE_FILE}-wal"));
        let mut live_files = Vec::new();
        for _ in 0..100 {
            live_files = sqlite_files(&data_dir);
            if std::fs::metadata(&wal).map_or(true, |m| m.len() == 0)
                && live_files
                    .iter()
                    .all(|(_, bytes)| !contains(bytes, &row.wrapped_dek))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        for (name, bytes) in &live_files {
            assert!(
                !contains(bytes, &row.wrapped_dek),
                "the deleted wrapped key survives in {name} while the instance runs"
            );
        }
    }

    drop(repo);
    app.stop().await;
    if db == Db::Sqlite {
        // The pools close just after `stop` returns; the last connection to close checkpoints
        // the write-ahead log into the database and deletes it. (While the instance runs, the
        // log may still hold the page as it was before the delete; docs/encryption-at-rest.md, "Crypto-shredding".)
        for _ in 0..100 {
            if !data_dir.join(format!("{DATABASE_FILE}-wal")).exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // After a clean stop, the deleted wrapped key is nowhere in the database's files
        // (secure_delete zeroes it), while the live rows' keys are: the search can find them.
        let files = sqlite_files(&data_dir);
        assert!(!files.is_empty());
        for (name, bytes) in &files {
            assert!(
                !contains(bytes, &row.wrapped_dek),
                "the deleted wrapped key survives in {name}"
            );
        }
        for other in &remaining {
            assert!(
                files
                    .iter()
                    .any(|(_, bytes)| contains(bytes, &other.wrapped_dek)),
                "a live wrapped key is found"
            );
        }
    }
}
