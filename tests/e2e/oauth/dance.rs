//! The whole dance in headless Chromium against oidc-provider: sealed link → gateway → the
//! provider's login and consent pages → callback → landing page → handle → exact bytes; a
//! second visit inside the session needs no dance; after the token expires it happens again.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use super::*;
use crate::browser::run_browser_script;
use crate::common::Db;
use crate::gateway::{field, literal};

fn sealed_link(app: &TestApp, placeholder: &str, viewer: &str) -> String {
    let keys = shared::sealed::SealKeys::load_or_create(
        &app.data_dir().join(shared::sealed::SEAL_KEYS_FILE),
    )
    .unwrap();
    let sealed = keys
        .seal(&shared::sealed::SealedLink {
            placeholder: placeholder.to_owned(),
            viewer_token: vec![("viewer".into(), viewer.into())],
        })
        .unwrap();
    format!("{}/l/{sealed}", app.gateway)
}

fn shots(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("oauth-screenshots")
        .join(name)
}

async fn dance(
    url: &str,
    login: &str,
    action: &str,
    shots: &Path,
    profile: Option<&Path>,
) -> Value {
    let mut args: Vec<String> = vec![
        url.into(),
        login.into(),
        action.into(),
        shots.display().to_string(),
    ];
    args.extend(profile.map(|p| p.display().to_string()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_browser_script("oauth-dance.mjs", &args)
    })
    .await
    .unwrap()
}

fn downloaded(result: &Value) -> Vec<u8> {
    let text = result["documentBase64"]
        .as_str()
        .unwrap_or_else(|| panic!("no download: {result}"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn visited_provider(result: &Value, issuer: &str) -> bool {
    result["pages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|url| url.as_str().unwrap().starts_with(issuer))
}

#[tokio::test]
async fn chromium_walks_the_dance_and_the_session_spares_a_second_one() {
    let provider = Peer::provider(8);
    let app = TestApp::spawn(Db::Sqlite).await;
    provider.register(&app, "gw-client", "gw-secret").await;
    let token = app.login().await;
    let content = b"\x00oauth bytes\xff".to_vec();
    let doc = oauth_doc(
        &app,
        &token,
        &content,
        oauth(&provider.issuer, literal("gw-client"), field("secret")),
    )
    .await;
    let url = sealed_link(&app, &doc.placeholder, "ann");
    let profile = tempfile::tempdir().unwrap();

    let first = dance(
        &url,
        "ann@example.com",
        "allow",
        &shots("first"),
        Some(profile.path()),
    )
    .await;
    assert_eq!(
        first["steps"],
        serde_json::json!(["login", "consent"]),
        "{first}"
    );
    assert_eq!(first["finalStatus"], 200, "{first}");
    assert!(
        first["handleUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/h/", app.vault))
    );
    assert_eq!(downloaded(&first), content);

    let second = dance(
        &url,
        "ann@example.com",
        "allow",
        &shots("second"),
        Some(profile.path()),
    )
    .await;
    assert!(
        !visited_provider(&second, &provider.issuer),
        "a session needs no dance: {second}"
    );
    assert_eq!(downloaded(&second), content);

    tokio::time::sleep(std::time::Duration::from_secs(9)).await;
    let third = dance(
        &url,
        "ann@example.com",
        "allow",
        &shots("third"),
        Some(profile.path()),
    )
    .await;
    assert!(
        visited_provider(&third, &provider.issuer),
        "the token expired: the dance again: {third}"
    );
    assert_eq!(downloaded(&third), content);
}

#[tokio::test]
async fn chromium_viewer_denying_consent_gets_a_clear_page() {
    let provider = Peer::provider(60);
    let app = TestApp::spawn(Db::Sqlite).await;
    provider.register(&app, "gw-client", "gw-secret").await;
    let token = app.login().await;
    let doc = oauth_doc(
        &app,
        &token,
        b"x",
        oauth(&provider.issuer, literal("gw-client"), literal("gw-secret")),
    )
    .await;
    let result = dance(
        &sealed_link(&app, &doc.placeholder, "ann"),
        "ann@example.com",
        "deny",
        &shots("deny"),
        None,
    )
    .await;
    assert_eq!(result["finalStatus"], 403, "{result}");
    assert_eq!(result["title"], "Access not granted · Sealpost");
    assert!(result["documentBase64"].is_null());
}

#[tokio::test]
async fn client_id_and_secret_from_literals_or_record_fields() {
    let provider = Peer::provider(60);
    let app = TestApp::spawn(Db::Sqlite).await;
    provider.register(&app, "gw-client", "gw-secret").await;
    let token = app.login().await;
    // (consumer, access, viewer, signs in?)
    let cases = [
        (field("client"), literal("gw-secret"), "ann", true),
        (field("client"), field("secret"), "ann", true),
        (literal("gw-client"), literal("gw-secret"), "bob", true),
        // Bob's record holds a wrong secret: the token endpoint refuses it.
        (literal("gw-client"), field("secret"), "bob", false),
    ];
    for (index, (consumer, access, viewer, works)) in cases.into_iter().enumerate() {
        let doc = oauth_doc(
            &app,
            &token,
            b"combo",
            oauth(&provider.issuer, consumer, access),
        )
        .await;
        let url = sealed_link(&app, &doc.placeholder, viewer);
        let result = dance(
            &url,
            &format!("{viewer}@example.com"),
            "allow",
            &shots(&format!("combo-{index}")),
            None,
        )
        .await;
        if works {
            assert_eq!(downloaded(&result), b"combo", "case {index}: {result}");
        } else {
            assert_eq!(result["finalStatus"], 403, "case {index}: {result}");
            assert_eq!(result["title"], "Sign-in failed · Sealpost");
        }
    }
}
