//! A top-secret document behind an OAuth challenge (Chromium against oidc-provider): the
//! provider's pages never see the link's key (the gateway's redirect to the provider carries an
//! empty fragment, so the browser does not pass `#k=…` on to the provider's origin), and the
//! viewer, signed in, opens the link again and gets the document.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use shared::e2e::KeySource;

use super::{key, seal, spawn, upload};
use crate::browser::run_browser_script;
use crate::common::{Db, pseudo_random};
use crate::gateway::{field, literal};
use crate::oauth::{Peer, audience, oauth};

async fn visit(url: String, profile: String) -> Value {
    tokio::task::spawn_blocking(move || {
        run_browser_script("top-secret-oauth.mjs", &[&url, "ann@example.com", &profile])
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn chromium_keeps_the_key_from_the_oauth_provider() {
    let provider = Peer::provider(60);
    let app = spawn(Db::Sqlite).await;
    provider.register(&app, "gw-client", "gw-secret").await;
    let token = app.login().await;
    let key = key();
    let fragment = key.to_fragment();
    let content = pseudo_random(70_000, 9);
    let challenge = oauth(&provider.issuer, literal("gw-client"), field("secret"));
    let objects = [("audience", audience()), ("challenge", challenge)];
    let doc = upload(
        &app,
        &token,
        seal(&KeySource::Key(key), "a.pdf", &content),
        &objects,
    )
    .await;
    let url = format!("{}/{}?viewer=ann#{fragment}", app.gateway, doc.placeholder);
    let profile = tempfile::tempdir().unwrap();
    let profile_arg = profile.path().display().to_string();

    // The dance: no page of the provider's had the key in its URL (its scripts could read it).
    let first = visit(url.clone(), profile_arg.clone()).await;
    assert_eq!(
        first["steps"],
        serde_json::json!(["login", "consent"]),
        "{first}"
    );
    let urls: Vec<&str> = first["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        urls.iter().any(|u| u.starts_with(&provider.issuer)),
        "{first}"
    );
    for url in urls.iter().filter(|u| !u.starts_with(&app.gateway)) {
        assert!(
            !url.contains(&fragment[2..]),
            "the provider's page saw the key: {url}"
        );
    }
    // Back on the gateway without the key, the page asks for it (or a passphrase).
    assert_eq!(first["outcome"], "asked", "{first}");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("open the whole link"),
        "{first}"
    );

    // Signed in: the link again goes straight to the page, which decrypts.
    let second = visit(url, profile_arg).await;
    assert_eq!(second["steps"], serde_json::json!([]), "{second}");
    assert_eq!(second["outcome"], "saved", "{second}");
    assert_eq!(
        STANDARD.decode(second["base64"].as_str().unwrap()).unwrap(),
        content
    );
}
