//! Rotating the instance's signing key (`sealpost instance rotate-signing-key`, issue 17 item
//! 3): after a restart `GET /.well-known/sealpost-keys` lists the new key first and every
//! retired one after it; new answers are signed by the new key only, and what the old key
//! signed (an answer, a stored document's content signature sent through a handle, a log
//! export) still verifies against the published set.

use std::path::Path;

use reqwest::header::HeaderMap;
use sealpost::instance::Instance;
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::{KeySet, sha256_hex};

use crate::common::{Db, TestApp, on_both_databases};
use crate::logs_export::{download, keys, verdict};

on_both_databases!(old_signatures_verify_after_rotations);

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// A signed answer, kept to check later.
struct Signed {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Signed {
    fn header(&self, name: &str) -> String {
        self.headers[name].to_str().unwrap().to_owned()
    }

    fn key_id(&self) -> String {
        let signature = self.header(SIGNATURE_HEADER);
        let rest = signature.strip_prefix("keyId=\"").unwrap();
        rest.split('"').next().unwrap().to_owned()
    }

    fn verify(&self, keys: &KeySet) -> Result<(), String> {
        let (signature, date) = (
            self.header(SIGNATURE_HEADER),
            self.header(SIGNATURE_DATE_HEADER),
        );
        content_signature::verify(keys, &signature, &date, &sha256_hex(&self.body))
            .map_err(|error| error.to_string())
    }
}

async fn signed(response: reqwest::Response) -> Signed {
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    Signed { headers, body }
}

/// Stops the API (the split wiring's vault keeps running: it never holds the instance key),
/// rotates the key with the real binary, and starts the instance again on the same data
/// directory and database.
async fn rotate_and_restart(app: &mut TestApp) -> String {
    app.instance.take().unwrap().stop().await;
    let output = std::process::Command::new(BINARY)
        .args(["instance", "rotate-signing-key", "--data-dir"])
        .arg(app.data_dir())
        .current_dir(app.data_dir().parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout} {:?}", output.stderr);
    let instance = Instance::start(&app.settings).await.unwrap();
    app.api = format!("http://{}", instance.api_addr);
    app.gateway = format!("http://{}", instance.gateway_addr);
    app.vault = format!("http://{}", instance.vault_addr);
    app.instance = Some(instance);
    stdout
}

fn ids(keys: &KeySet) -> Vec<String> {
    keys.keys.iter().map(|key| key.key_id.clone()).collect()
}

async fn old_signatures_verify_after_rotations(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let dir = tempfile::tempdir().unwrap();
    let token = app.login().await;
    let before = keys(&app).await;
    assert_eq!(before.keys.len(), 1);
    let first_id = before.keys[0].key_id.clone();
    let content = b"signed under the first key".to_vec();
    let record = app.upload(&token, "old.txt", content.clone()).await;
    let id = record["id"].as_str().unwrap().to_owned();
    let answer = signed(
        app.get(&token, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.key_id(), first_id);
    let zip = dir.path().join("old.zip");
    download(&app, &token, "/logs", &before, &zip).await;
    verdict(&zip, &before).await.unwrap();

    let stdout = rotate_and_restart(&mut app).await;
    assert!(stdout.contains(&first_id), "{stdout}");
    let previous = app.data_dir().join("instance-key.previous.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(&previous.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let after = keys(&app).await;
    let second_id = after.keys[0].key_id.clone();
    assert_eq!(ids(&after), [second_id.clone(), first_id.clone()]);
    assert_ne!(second_id, first_id);

    // Login tokens were signed by the old key: log in again. New answers use the new key.
    let token = app.login().await;
    let fresh = signed(
        app.get(&token, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fresh.key_id(), second_id);
    fresh.verify(&after).unwrap();
    answer.verify(&after).unwrap();
    let url = app.handle_url(&id, 300).await;
    let stored = signed(app.client.get(&url).send().await.unwrap()).await;
    assert_eq!(
        (stored.key_id(), &stored.body),
        (first_id.clone(), &content)
    );
    stored.verify(&after).unwrap();
    verdict(&zip, &after).await.unwrap();
    let key_url = app.url("/.well-known/sealpost-keys");
    let cli = std::process::Command::new(BINARY)
        .args(["logs", "verify"])
        .arg(&zip)
        .args(["--key", &key_url])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{:?}",
        String::from_utf8_lossy(&cli.stderr)
    );

    // A second rotation keeps every retired key published (see `api_server::signing_keys`).
    rotate_and_restart(&mut app).await;
    let third = keys(&app).await;
    assert_eq!(&ids(&third)[1..], [second_id, first_id]);
    answer.verify(&third).unwrap();
    fresh.verify(&third).unwrap();
    verdict(&zip, &third).await.unwrap();
    assert_no_key_in(&app.data_dir(), &third);
}

/// The key set publishes public halves only: no private key file's bytes appear in it.
fn assert_no_key_in(data_dir: &Path, keys: &KeySet) {
    let published = serde_json::to_string(keys).unwrap();
    for file in ["instance-key.pem", "instance-key.previous.pem"] {
        let pem = std::fs::read_to_string(data_dir.join(file)).unwrap();
        for line in pem.lines().filter(|line| !line.starts_with("-----")) {
            assert!(!published.contains(line), "{file} leaks into the key set");
        }
    }
}
