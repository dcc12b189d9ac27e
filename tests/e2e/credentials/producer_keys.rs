//! Several keys per producer (issue 16, item 4): `GET/POST /producer/keys`,
//! `DELETE /producer/keys/{keyId}`, and `sealpost producer key add|list|remove`. Removing a key
//! stops it logging in and ends the tokens it issued at once; the last key stays (409).

use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use shared::keys::SigningKey;

use super::assertion::{assertion, login_form, token_of};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    keys_are_added_listed_and_removed,
    a_removed_key_ends_its_tokens_at_once,
    another_producers_key_is_not_found,
    bad_public_keys_name_the_field,
    a_producer_holds_at_most_twenty_keys,
    the_cli_manages_keys_while_up_runs,
);

/// An SPKI PEM, as `openssl pkey -pubout` writes it, of a raw Ed25519 public key.
fn spki_pem(public_key: &[u8]) -> String {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public_key);
    let body = STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
}

async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let body = app.get_json(token, "/producer/keys").await;
    body["keys"].as_array().unwrap().clone()
}

async fn add(app: &TestApp, token: &str, public_key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/producer/keys"))
        .bearer_auth(token)
        .json(&json!({ "publicKey": public_key }))
        .send()
        .await
        .unwrap()
}

/// A new key pair added to the token's producer: its PEM private key and its `keyId`.
async fn add_new(app: &TestApp, token: &str) -> (String, String) {
    let key = SigningKey::generate().unwrap();
    let response = add(app, token, &spki_pem(key.public_key())).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("location"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["publicKey"], STANDARD.encode(key.public_key()));
    assert_eq!(
        body["publicKeyPem"],
        spki_pem(key.public_key()),
        "as openssl writes it"
    );
    (
        key.to_pem().to_string(),
        body["keyId"].as_str().unwrap().to_owned(),
    )
}

async fn delete(app: &TestApp, token: &str, key_id: &str) -> u16 {
    let path = format!("/producer/keys/{key_id}");
    app.delete(token, &path)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn keys_are_added_listed_and_removed(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let keys = list(&app, &token).await;
    assert_eq!(keys.len(), 1);
    let first = keys[0]["keyId"].as_str().unwrap().to_owned();
    assert!(
        keys[0]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );

    let (pem, second) = add_new(&app, &token).await;
    // The raw key in base64 is accepted too.
    let third = SigningKey::generate().unwrap();
    let response = add(&app, &token, &STANDARD.encode(third.public_key())).await;
    assert_eq!(response.status(), 201);
    let listed: Vec<String> = list(&app, &token)
        .await
        .iter()
        .map(|k| k["keyId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], first, "oldest first");
    assert!(listed.contains(&second));

    // The second key logs in by PEM, the third by assertion.
    assert_eq!(
        app.login_response(&pem, "ops@x.example").await.status(),
        200
    );
    let jwt = assertion(&app, &third.to_pem(), "default");
    let token = token_of(&login_form(&app, &app.api, &[("assertion", &jwt)]).await);

    // The same public key twice: 409.
    let again = add(&app, &token, &STANDARD.encode(third.public_key())).await;
    assert_eq!(again.status(), 409);

    // Remove all but one; the last stays.
    assert_eq!(delete(&app, &token, &first).await, 204);
    assert_eq!(delete(&app, &token, &first).await, 404);
    assert_eq!(delete(&app, &token, &second).await, 204);
    let last = list(&app, &token).await;
    assert_eq!(last.len(), 1);
    let last_id = last[0]["keyId"].as_str().unwrap();
    let path = format!("/producer/keys/{last_id}");
    let response = app.delete(&token, &path).send().await.unwrap();
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("last key"),
        "{problem}"
    );
    assert_eq!(list(&app, &token).await.len(), 1);
}

async fn a_removed_key_ends_its_tokens_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let (pem, key_id) = add_new(&app, &token).await;
    let by_new_key = app.login_with(&pem).await;
    let jwt = assertion(&app, &pem, "default");
    let by_assertion = token_of(&login_form(&app, &app.api, &[("assertion", &jwt)]).await);
    for t in [&by_new_key, &by_assertion] {
        assert_eq!(app.get(t, "/documents").send().await.unwrap().status(), 200);
    }
    assert_eq!(delete(&app, &token, &key_id).await, 204);
    for t in [&by_new_key, &by_assertion] {
        assert_eq!(
            app.get(t, "/documents").send().await.unwrap().status(),
            401,
            "at once"
        );
    }
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        200,
        "other keys' tokens live on"
    );
    assert_eq!(
        app.login_response(&pem, "ops@x.example").await.status(),
        401
    );
    let jwt = assertion(&app, &pem, "default");
    assert_eq!(
        login_form(&app, &app.api, &[("assertion", &jwt)])
            .await
            .status(),
        401
    );
}

async fn another_producers_key_is_not_found(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let acme_pem = app.add_producer("acme").await;
    let acme = app.login_with(&acme_pem).await;
    let acme_keys = list(&app, &acme).await;
    let acme_key = acme_keys[0]["keyId"].as_str().unwrap();
    add_new(&app, &token).await;
    assert_eq!(delete(&app, &token, acme_key).await, 404);
    assert_eq!(delete(&app, &token, "no-such-key").await, 404);
    // Acme's public key cannot become default's.
    let acme_public = SigningKey::from_pem(&acme_pem)
        .unwrap()
        .public_key()
        .to_vec();
    assert_eq!(
        add(&app, &token, &spki_pem(&acme_public)).await.status(),
        409
    );
    assert_eq!(list(&app, &acme).await.len(), 1);
    assert_eq!(list(&app, &token).await.len(), 2);
}

async fn bad_public_keys_name_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let private = SigningKey::generate().unwrap().to_pem().to_string();
    for bad in [
        private.as_str(),
        "AAAA",
        "not base64 !",
        &STANDARD.encode([1u8; 31]),
    ] {
        let response = add(&app, &token, bad).await;
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.json::<Value>().await.unwrap()["field"],
            "publicKey"
        );
    }
    for body in ["[]", "{\"key\": \"x\"}", "not json"] {
        let response = app
            .client
            .post(app.url("/producer/keys"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
    assert_eq!(list(&app, &token).await.len(), 1);
}

async fn a_producer_holds_at_most_twenty_keys(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let mut last = String::new();
    for _ in 1..20 {
        last = add_new(&app, &token).await.0;
    }
    let key = SigningKey::generate().unwrap();
    let response = add(&app, &token, &spki_pem(key.public_key())).await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("20 keys"),
        "{problem}"
    );
    assert_eq!(list(&app, &token).await.len(), 20);
    // An assertion without kid is checked against all of them.
    let jwt = assertion(&app, &last, "default");
    token_of(&login_form(&app, &app.api, &[("assertion", &jwt)]).await);
}

/// `sealpost producer key …` on the app's data directory and database.
fn cli(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealpost"))
        .args(["producer", "key"])
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir())
        .env("SEALPOST__DATABASE__URL", app.settings.database_url())
        .output()
        .unwrap()
}

async fn the_cli_manages_keys_while_up_runs(db: Db) {
    let app = TestApp::spawn(db).await;
    let added = cli(&app, &["add", "default"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let pem = String::from_utf8(added.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let token = app.login_with(&pem).await;

    let listed = cli(&app, &["list", "default"]);
    assert!(listed.status.success());
    let lines: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let public = STANDARD.encode(SigningKey::from_pem(&pem).unwrap().public_key());
    let new_id = lines
        .iter()
        .find(|l| l.ends_with(&public))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let first_id = lines[0].split_whitespace().next().unwrap().to_owned();

    let removed = cli(&app, &["remove", "default", &new_id]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        401,
        "its token ended"
    );
    assert_eq!(
        app.login_response(&pem, "ops@x.example").await.status(),
        401
    );

    let last = cli(&app, &["remove", "default", &first_id]);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("last key"));
    let unknown = cli(&app, &["list", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));
    assert!(
        !app.login().await.is_empty(),
        "the default key still logs in"
    );
}
