//! What the services do with a top-secret document: store it re-encrypted, hand non-browsers
//! the handle, give browsers the decrypting page with its policy, serve the script it names by
//! hash, and let only the gateway's origin read handles cross-origin.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, LOCATION, ORIGIN};
use serde_json::Value;
use shared::e2e::KeySource;

use super::{key, open, seal, spawn, upload};
use crate::common::{Db, SEGMENT, on_both_databases, pseudo_random};
use crate::gateway::{audience, no_redirects};

on_both_databases!(
    stored_re_encrypted_and_served_exactly_as_uploaded,
    the_page_runs_only_the_served_script_by_its_hash,
    only_the_gateways_origin_reads_handles_cross_origin,
    links_of_a_top_secret_document_carry_no_key,
);

/// The handle a non-browser client is sent to (303) from the document request `url`.
async fn handle_of(url: &str) -> String {
    let response = no_redirects().get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

async fn stored_re_encrypted_and_served_exactly_as_uploaded(db: Db) {
    let app = spawn(db).await;
    let token = app.login().await;
    let source = KeySource::Key(key());
    let content = pseudo_random(3 * SEGMENT + 77, 21);
    let ciphertext = seal(&source, "plan.pdf", &content);
    let doc = upload(&app, &token, ciphertext.clone(), &[]).await;

    // At rest: encrypted again under the vault's own key, so no run of the upload shows through.
    let files = app.object_files();
    assert_eq!(files.len(), 1);
    let stored = app.read_object(&files[0]);
    assert_ne!(stored, ciphertext);
    for at in [0, 48, ciphertext.len() / 2, ciphertext.len() - 32] {
        let window = &ciphertext[at..at + 32];
        assert!(
            !stored.windows(32).any(|w| w == window),
            "upload bytes at {at} stored as such"
        );
    }

    // A client that reads no HTML is sent to the handle, which serves the upload's exact bytes;
    // they decrypt with the key and with nothing else.
    let handle = handle_of(&format!("{}/{}", app.gateway, doc.placeholder)).await;
    let served = app.client.get(&handle).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], shared::e2e::MEDIA_TYPE);
    let served = served.bytes().await.unwrap();
    assert_eq!(served.as_ref(), ciphertext.as_slice());
    assert_eq!(open(&source, &served).unwrap(), content);
    assert!(open(&KeySource::Key(key()), &served).is_err());
    plaintext_is_never_labelled_top_secret(&app, &token, &doc.id, &served).await;
}

/// `"sensitivity": "top-secret"` with content that is not `sealpost-e2e-v1` is 422 naming
/// `metadata.sensitivity`, whichever write would make it so, and nothing changes.
async fn plaintext_is_never_labelled_top_secret(
    app: &crate::common::TestApp,
    token: &str,
    id: &str,
    stored: &[u8],
) {
    let label = serde_json::json!({"sensitivity": "Top-Secret"}).to_string();
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(b"plain text".to_vec())
                .file_name("plan.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .text("metadata", label.clone());
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 422);
        let problem = response.text().await.unwrap();
        assert!(problem.contains("metadata.sensitivity"), "{problem}");
    };
    refused(app.upload_form(token, form).await).await;
    assert_eq!(
        app.object_files().len(),
        1,
        "the refused upload left no object"
    );
    // New plain content under the label.
    let put = (app
        .client
        .put(app.url(&format!("/documents/{id}/document"))))
    .bearer_auth(token)
    .header("content-type", "text/plain")
    .body("plain text")
    .send()
    .await
    .unwrap();
    refused(put).await;
    // The label on a plain document.
    let plain = app.upload(token, "plan.txt", b"plain text".to_vec()).await;
    let path = format!("/documents/{}/metadata", plain["id"].as_str().unwrap());
    let put = (app.client.put(app.url(&path)))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(label)
        .send()
        .await
        .unwrap();
    refused(put).await;
    let content = app
        .client
        .get(app.url(&format!("/documents/{id}/document")));
    let content = content.bearer_auth(token).send().await.unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), stored, "unchanged");
}

async fn the_page_runs_only_the_served_script_by_its_hash(db: Db) {
    let app = spawn(db).await;
    let token = app.login().await;
    let doc = upload(
        &app,
        &token,
        seal(&KeySource::Key(key()), "a.pdf", b"x"),
        &[],
    )
    .await;
    let page = app
        .client
        .get(format!("{}/{}", app.gateway, doc.placeholder))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = page.text().await.unwrap();

    // The policy names one script hash, lets it fetch the vault's handles only, and nothing inline.
    let script_src = directive(&policy, "script-src");
    let hash = script_src
        .trim_matches('\'')
        .strip_prefix("sha256-")
        .unwrap()
        .to_owned();
    assert_eq!(
        directive(&policy, "connect-src"),
        format!("{}/h/", app.vault),
        "{policy}"
    );
    assert_eq!(directive(&policy, "default-src"), "'none'");
    assert!(!policy.contains("unsafe-"), "{policy}");
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(
        body.contains(&format!("integrity=\"sha256-{hash}\"")),
        "{body}"
    );
    assert!(
        body.contains(&format!("data-handle=\"{}/h/", app.vault)),
        "{body}"
    );

    // The script the page names is the one the hash allows.
    let script = app
        .client
        .get(format!("{}/assets/sealpost-e2e-v1.js", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    let script = script.bytes().await.unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &script);
    assert_eq!(STANDARD.encode(digest.as_ref()), hash);
    assert!(
        body.contains("src=\"/assets/sealpost-e2e-v1.js\""),
        "{body}"
    );

    // An ordinary document keeps the ordinary page: no script at all.
    let plain = crate::gateway::create(&app, &token, b"plain", &[]).await;
    let page = app
        .client
        .get(format!("{}/{}", app.gateway, plain.placeholder))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        !page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src")
    );
    assert!(!page.text().await.unwrap().contains("<script"));
}

/// The value of `name` in a policy.
fn directive(policy: &str, name: &str) -> String {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {name} in {policy}"))
}

async fn only_the_gateways_origin_reads_handles_cross_origin(db: Db) {
    let app = spawn(db).await;
    let token = app.login().await;
    let doc = upload(
        &app,
        &token,
        seal(&KeySource::Key(key()), "a.pdf", b"x"),
        &[],
    )
    .await;
    let handle = handle_of(&format!("{}/{}", app.gateway, doc.placeholder)).await;
    let gateway_origin = app.gateway.as_str();
    let allowed = with_origin(&app, &handle, gateway_origin).await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        gateway_origin
    );
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert!(
        allowed.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Origin")
    );
    // Errors too, so the page can say the link expired rather than "network error".
    let missing = with_origin(&app, &format!("{}/h/nonsense", app.vault), gateway_origin).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["access-control-allow-origin"],
        gateway_origin
    );
    // Any other origin: nothing.
    for origin in ["https://evil.example", "null"] {
        let refused = with_origin(&app, &handle, origin).await;
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{origin}"
        );
    }
}

async fn with_origin(app: &crate::common::TestApp, url: &str, origin: &str) -> reqwest::Response {
    app.client
        .get(url)
        .header(ORIGIN, origin)
        .send()
        .await
        .unwrap()
}

async fn links_of_a_top_secret_document_carry_no_key(db: Db) {
    let app = spawn(db).await;
    let token = app.login().await;
    let doc = upload(
        &app,
        &token,
        seal(&KeySource::Key(key()), "a.pdf", b"x"),
        &[("audience", audience())],
    )
    .await;
    let response = app
        .client
        .post(app.url(&format!("/documents/{}/links", doc.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let links = body["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    for link in links {
        let href = link["href"].as_str().unwrap();
        assert!(!href.contains('#'), "the server has no key to add: {href}");
    }
}
