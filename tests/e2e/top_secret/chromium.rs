//! The viewer's browser (headless Chromium, `tests/browser/top-secret.mjs`): the landing page's
//! script decrypts the document with the key from the link's fragment or a typed passphrase, and
//! offers exactly the original bytes under the original name; a wrong key, a modified file or
//! one damaged at the vault's store ends in a message and no download. No request the browser
//! makes carries the key, and neither do the services' logs. One database is enough here: the
//! browser exercises the page, the script and the vault's HTTP face.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use serde_json::Value;
use shared::e2e::{E2eKey, KeySource};

use super::{PASSPHRASE, key, passphrase, seal, spawn, upload};
use crate::browser::run_browser_script;
use crate::common::{Db, SEGMENT, TestApp, pseudo_random};
use crate::gateway::{audience, basic, field};

/// Opens `url` in Chromium; `passphrase` is typed into the page, `credentials` answer the
/// challenge.
async fn view(url: String, passphrase: Option<&str>, credentials: Option<(&str, &str)>) -> Value {
    let passphrase = passphrase.unwrap_or("-").to_owned();
    let (user, password) = credentials.unwrap_or(("-", "-"));
    let (user, password) = (user.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        run_browser_script("top-secret.mjs", &[&url, &passphrase, &user, &password])
    })
    .await
    .unwrap()
}

/// The downloaded bytes of a saved outcome.
fn saved(result: &Value) -> Vec<u8> {
    assert_eq!(result["outcome"], "saved", "{result}");
    assert_eq!(result["downloads"], 1, "{result}");
    STANDARD.decode(result["base64"].as_str().unwrap()).unwrap()
}

/// A refused outcome: the message shown, and no download offered or made.
fn refused(result: &Value) -> String {
    assert_eq!(result["outcome"], "error", "{result}");
    assert_eq!(result["downloads"], 0, "{result}");
    assert!(result["saveHref"].is_null(), "{result}");
    result["message"].as_str().unwrap().to_owned()
}

/// No request the browser made carries `secret`, in its URL or any header.
fn no_request_carries(result: &Value, secret: &str) {
    let requests = result["requests"].as_array().unwrap();
    assert!(
        requests.len() >= 3,
        "page, script and handle at least: {result}"
    );
    for request in requests {
        assert!(
            !request.to_string().contains(secret),
            "a request carried the secret: {request}"
        );
    }
}

/// No line of the gateway's or the vault's log for `id` holds `secret` (checked after a stop,
/// when every record is written).
async fn no_log_holds(app: &TestApp, id: &str, secret: &str) {
    let repo = schema::connect(&app.settings.database_url()).await.unwrap();
    let doc = schema::DocumentId::parse(id).unwrap();
    let producer = repo
        .document_by_id(&doc)
        .await
        .unwrap()
        .unwrap()
        .producer_id;
    let (from, to) = (
        Utc::now() - Duration::minutes(10),
        Utc::now() + Duration::minutes(1),
    );
    let gateway = repo
        .gateway_log(Some(&producer), Some(&doc), from, to)
        .await
        .unwrap();
    let vault = repo
        .vault_log(&producer, Some(&doc), from, to)
        .await
        .unwrap();
    assert!(
        !gateway.is_empty() && !vault.is_empty(),
        "both logs saw the visit"
    );
    let lines: Vec<&str> = gateway
        .iter()
        .map(|l| l.fields.as_str())
        .chain(vault.iter().map(|l| l.fields.as_str()))
        .collect();
    assert!(
        lines.iter().all(|line| !line.contains(secret)),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn chromium_decrypts_with_the_key_from_the_link_after_basic() {
    let mut app = spawn(Db::Sqlite).await;
    let token = app.login().await;
    let key = key();
    let fragment = key.to_fragment();
    let content = pseudo_random(3 * SEGMENT + 1000, 5);
    let ciphertext = seal(&KeySource::Key(key), "Zoë's report.pdf", &content);
    let objects = [
        ("audience", audience()),
        ("challenge", basic(field("code"))),
    ];
    let doc = upload(&app, &token, ciphertext, &objects).await;
    let sealed = super::sealed_link(&app, &doc.placeholder, "4154445511", "Harry");

    let result = view(
        format!("{sealed}#{fragment}"),
        None,
        Some(("harry", "tiger")),
    )
    .await;
    assert_eq!(result["landingStatus"], 200, "{result}");
    assert_eq!(saved(&result), content);
    assert_eq!(result["name"], "Zoë's report.pdf");
    // The script took the key out of the address bar once read.
    assert!(
        !result["urlAfter"].as_str().unwrap().contains('#'),
        "{result}"
    );
    no_request_carries(&result, &fragment[2..]);
    app.stop().await;
    no_log_holds(&app, &doc.id, &fragment[2..]).await;
}

#[tokio::test]
async fn chromium_decrypts_with_a_typed_passphrase_without_challenge() {
    let mut app = spawn(Db::Sqlite).await;
    let token = app.login().await;
    let content = pseudo_random(SEGMENT - 20, 6);
    let doc = upload(
        &app,
        &token,
        seal(&passphrase(), "notes.txt", &content),
        &[],
    )
    .await;

    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let result = view(url, Some(PASSPHRASE), None).await;
    assert_eq!(saved(&result), content);
    assert_eq!(result["name"], "notes.txt");
    no_request_carries(&result, PASSPHRASE);
    no_request_carries(&result, &PASSPHRASE.replace(' ', "+"));
    app.stop().await;
    no_log_holds(&app, &doc.id, PASSPHRASE).await;
}

#[tokio::test]
async fn chromium_refuses_a_wrong_key_and_a_modified_file() {
    let app = spawn(Db::Sqlite).await;
    let token = app.login().await;
    let right = key();
    let content = pseudo_random(2 * SEGMENT + 5, 7);
    let ciphertext = seal(
        &KeySource::Key(E2eKey::from_fragment(&right.to_fragment()).unwrap()),
        "a.pdf",
        &content,
    );
    let doc = upload(&app, &token, ciphertext.clone(), &[]).await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);

    let wrong = key();
    let message = refused(&view(format!("{url}#{}", wrong.to_fragment()), None, None).await);
    assert!(message.contains("could not be decrypted"), "{message}");

    // One byte of the last segment changed before upload: the first segments verify, yet
    // nothing is offered.
    let mut modified = ciphertext;
    let at = modified.len() - 20;
    modified[at] ^= 0x01;
    let doc = upload(&app, &token, modified, &[]).await;
    let url = format!(
        "{}/{}#{}",
        app.gateway,
        doc.placeholder,
        right.to_fragment()
    );
    let message = refused(&view(url, None, None).await);
    assert!(message.contains("could not be decrypted"), "{message}");
}

#[tokio::test]
async fn chromium_refuses_a_file_damaged_at_the_vaults_store() {
    let app = spawn(Db::Sqlite).await;
    let token = app.login().await;
    let key = key();
    let fragment = key.to_fragment();
    // 32 stored segments: the vault checks the first 16 before answering, so damage in segment
    // 30 breaks the download after the 200 and the first MiB (the browser has verified part of
    // the document by then).
    let content = pseudo_random(32 * SEGMENT, 8);
    let doc = upload(
        &app,
        &token,
        seal(&KeySource::Key(key), "big.pdf", &content),
        &[],
    )
    .await;
    let files = app.object_files();
    assert_eq!(files.len(), 1);
    let mut stored = app.read_object(&files[0]);
    stored[16 + 30 * (SEGMENT + 16) + 7] ^= 0x20;
    app.write_object(&files[0], &stored);

    let url = format!("{}/{}#{fragment}", app.gateway, doc.placeholder);
    let message = refused(&view(url, None, None).await);
    assert!(message.contains("Nothing was saved"), "{message}");
}
