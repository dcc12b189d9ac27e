//! Two vault servers over one key file and one database (issue 19, item 3): a rotation run on
//! the shared file is picked up by both without a restart.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schema::ObjectKey;
use shared::config::Settings;
use vault::internal::{RemoteVault, ServiceCredential};
use vault::rotate::{RotateOptions, rotate_key};

use super::{body, new_bucket, read_all};
use crate::common::{Db, on_both_databases, pseudo_random};

on_both_databases!(two_vaults_serve_through_a_rotation_of_their_shared_key_file);

/// Uploads `content` through `vault` and keeps it.
async fn upload(vault: &RemoteVault, content: &[u8]) -> ObjectKey {
    let stored = vault.put(body(content, 1 << 20), u64::MAX).await.unwrap();
    let key = stored.key().clone();
    stored.keep();
    key
}

/// Reads every `(key, content)` back through both vaults, byte for byte.
async fn read_everything(vaults: &[&RemoteVault], documents: &[(ObjectKey, Vec<u8>)]) {
    for (name, vault) in ["A", "B"].iter().zip(vaults) {
        for (key, content) in documents {
            let read = read_all(vault.read(key).await.unwrap()).await;
            assert!(read == *content, "vault {name} read {key} wrong");
        }
    }
}

async fn two_vaults_serve_through_a_rotation_of_their_shared_key_file(db: Db) {
    let bucket = new_bucket("shared-keys").await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let database = db.fresh_database(&data_dir).await;
    let overrides = [
        ("data_dir", data_dir.display().to_string()),
        ("database.url", database.to_string()),
        ("vault.addr", "127.0.0.1:0".to_owned()),
        ("vault.store_url", format!("s3://{bucket}")),
        ("workers", "1".to_owned()),
    ];
    let mut settings =
        Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides).unwrap();
    settings.vault.handle_public_keys = vec![URL_SAFE_NO_PAD.encode(pseudo_random(32, 9))];
    // Two servers over one data directory: one key file, one service token.
    let server_a = vault::standalone::start(&settings).await.unwrap();
    let server_b = vault::standalone::start(&settings).await.unwrap();
    let client = |addr| {
        let token = vault::internal::credential::token_path(&settings);
        let credential = ServiceCredential::load(&token, false).unwrap();
        RemoteVault::new(&format!("http://{addr}"), credential).unwrap()
    };
    let (a, b) = (client(server_a.addr), client(server_b.addr));
    let repo = schema::connect(&database).await.unwrap();
    let key_file = data_dir.join(vault::standalone::KEYRING_FILE);
    let old_kek = vault::Keyring::load(&key_file)
        .unwrap()
        .current_id()
        .to_owned();

    let mut documents = Vec::new();
    for (seed, through) in [(1, &a), (2, &b)] {
        let content = pseudo_random(3 << 20, seed);
        documents.push((upload(through, &content).await, content));
    }

    // The rotation (with a pause between its passes) while both vaults read and B uploads.
    let options = RotateOptions {
        grace: Duration::from_secs(1),
        ..RotateOptions::default()
    };
    let rotation = rotate_key(repo.as_ref(), &key_file, &options);
    let traffic = async {
        let during = pseudo_random(1 << 20, 3);
        let key = upload(&b, &during).await;
        let mut documents = documents.clone();
        documents.push((key, during));
        for _ in 0..3 {
            read_everything(&[&a, &b], &documents).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        documents
    };
    let (report, mut documents) = tokio::join!(rotation, traffic);
    let report = report.unwrap();
    assert_eq!(report.retired, std::slice::from_ref(&old_kek), "{report}");
    let ring = vault::Keyring::load(&key_file).unwrap();
    let new_kek = ring.current_id().to_owned();
    assert_ne!(new_kek, old_kek);
    assert_eq!(ring.ids().count(), 1, "the old key left the file");

    // New uploads through either vault are wrapped under the new key, without a restart.
    for (seed, through) in [(4, &b), (5, &a)] {
        let content = pseudo_random(2 << 20, seed);
        let key = upload(through, &content).await;
        let row = repo.object(&key).await.unwrap().unwrap();
        assert_eq!(row.kek_id, new_kek);
        documents.push((key, content));
    }
    for (key, _) in &documents {
        assert_eq!(repo.object(key).await.unwrap().unwrap().kek_id, new_kek);
    }
    // After the retirement both still read everything.
    read_everything(&[&a, &b], &documents).await;
    server_a.stop().await;
    server_b.stop().await;
}
