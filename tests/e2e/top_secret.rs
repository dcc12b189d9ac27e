//! Top-secret documents (issue 21, items 3 and 5): `sealpost-e2e-v1` ciphertext made here with
//! `shared::e2e`, uploaded as any document with `"sensitivity": "top-secret"` and media type
//! `application/vnd.sealpost.e2e`, stored re-encrypted, and decrypted only in the browser by
//! the gateway's landing-page script (headless Chromium, `tests/browser/top-secret.mjs`).
//!
//! - `server`: what the services do with such a document (storage, the 303 for non-browsers,
//!   the page and its policy, the script, the vault's CORS), on both databases.
//! - `chromium`: the viewer's browser: key in the fragment, passphrase typed, wrong key, a
//!   modified file, a file damaged at the store; no request carries the key.
//!
//! Every key and passphrase used here is recorded for the suite's secret grep
//! ([`crate::secrets::record`], kinds `e2e key` and `e2e passphrase`).

mod chromium;
mod oauth;
mod server;

use reqwest::multipart::{Form, Part};
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::e2e::{Decryptor, E2eKey, Encryptor, KeySource, MEDIA_TYPE};

use crate::common::{Db, TestApp};
use crate::gateway::{Doc, placeholder_id};

/// The passphrase of the passphrase tests (recorded for the secret grep when used).
pub const PASSPHRASE: &str = "violet staircase 42 umbrella";

/// An instance whose vault knows the gateway's origin. In the split wiring the vault starts
/// before the gateway binds, so the gateway gets a port chosen beforehand (the vault derives
/// the origin it allows from `gateway.addr`, as a deployment's does from `gateway.public_url`).
pub async fn spawn(db: Db) -> TestApp {
    if !crate::wiring::split() {
        return TestApp::spawn(db).await;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    TestApp::spawn_with(db, &[("gateway.addr", &format!("127.0.0.1:{port}"))]).await
}

/// A fresh random key, recorded (fragment and bare) for the secret grep.
pub fn key() -> E2eKey {
    let key = E2eKey::random();
    let fragment = key.to_fragment();
    crate::secrets::record("e2e key", &fragment);
    crate::secrets::record("e2e key", &fragment[2..]);
    key
}

/// The passphrase source, recorded for the secret grep.
pub fn passphrase() -> KeySource {
    crate::secrets::record("e2e passphrase", PASSPHRASE);
    KeySource::Passphrase(SecretString::from(PASSPHRASE))
}

/// Harry's sealed link (`{gateway}/l/{sealed}`) to the document with `placeholder`, as
/// `POST …/links` or a fulfillment makes it.
pub fn sealed_link(app: &TestApp, placeholder: &str, telephone: &str, first_name: &str) -> String {
    let keys = shared::sealed::SealKeys::load_or_create(
        &app.data_dir().join(shared::sealed::SEAL_KEYS_FILE),
    )
    .unwrap();
    let sealed = keys
        .seal(&shared::sealed::SealedLink {
            placeholder: placeholder.to_owned(),
            viewer_token: vec![
                ("telephone".into(), telephone.into()),
                ("first_name".into(), first_name.into()),
            ],
        })
        .unwrap();
    format!("{}/l/{sealed}", app.gateway)
}

/// `content` sealed as `name` (`application/pdf`), fed in uneven pieces.
pub fn seal(source: &KeySource, name: &str, content: &[u8]) -> Vec<u8> {
    let (mut encryptor, mut file) = Encryptor::new(source, name, "application/pdf").unwrap();
    for piece in content.chunks(50_000) {
        encryptor.push(piece, &mut file).unwrap();
    }
    encryptor.finish(&mut file).unwrap();
    file
}

/// The plaintext of `file`, or the error that stopped it.
pub fn open(source: &KeySource, file: &[u8]) -> Result<Vec<u8>, shared::e2e::E2eError> {
    let mut decryptor = Decryptor::new(source);
    let mut out = Vec::new();
    for piece in file.chunks(16_384) {
        decryptor.push(piece, &mut out)?;
    }
    decryptor.finish().map(|_| out)
}

/// Uploads `ciphertext` as a top-secret document (as the CLI does: a neutral name, the e2e
/// media type, `"sensitivity": "top-secret"`), with the given JSON objects.
pub async fn upload(
    app: &TestApp,
    token: &str,
    ciphertext: Vec<u8>,
    objects: &[(&str, Value)],
) -> Doc {
    let mut form = Form::new()
        .part(
            "document",
            Part::bytes(ciphertext)
                .file_name("top-secret")
                .mime_str(MEDIA_TYPE)
                .unwrap(),
        )
        .text("metadata", json!({"sensitivity": "top-secret"}).to_string());
    for (name, value) in objects {
        form = form.text((*name).to_owned(), value.to_string());
    }
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["mediaType"], MEDIA_TYPE, "{record}");
    Doc {
        id: record["id"].as_str().unwrap().to_owned(),
        placeholder: placeholder_id(&record),
    }
}
