//! The gateway's placeholder cache (issue 20; DESIGN "Scaled out"): a document changed through
//! the API is answered at once by the gateway sharing its repository (the write empties the
//! cache), and by a gateway in another process within one second (its entries live at most
//! that long; polled here for up to two).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::gateway::{Doc, audience, basic, create, harry, literal};
use crate::scaled_state::{Second, client_from};

on_both_databases!(
    a_replaced_or_deleted_placeholder_is_gone_at_once,
    a_new_audience_or_challenge_is_enforced_at_once,
    another_gateway_sees_changes_within_a_second,
);

/// Longest wait for another process's gateway: its cache's TTL (1 s), and as much again.
pub const OTHER_PROCESS: Duration = Duration::from_secs(2);

/// The suite's client (TLS wiring included), never following redirects.
fn client() -> reqwest::Client {
    client_from(std::net::Ipv4Addr::LOCALHOST)
}

async fn status(url: &str) -> StatusCode {
    client().get(url).send().await.unwrap().status()
}

/// Polls `url` until it answers `expected`, for at most [`OTHER_PROCESS`]; the last status.
pub async fn eventually(url: &str, expected: u16) -> u16 {
    eventually_with(&client(), url, &[expected]).await
}

/// Polls `url` with `client` until it answers one of `accepted`, for at most
/// [`OTHER_PROCESS`]: for a gateway in another process than the change (issue 20's cache).
/// The last status.
pub async fn eventually_with(client: &reqwest::Client, url: &str, accepted: &[u16]) -> u16 {
    let deadline = Instant::now() + OTHER_PROCESS;
    loop {
        let now = client.get(url).send().await.unwrap().status().as_u16();
        if accepted.contains(&now) || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replaces `doc`'s content (a new placeholder); the new placeholder.
async fn replace(app: &TestApp, token: &str, doc: &Doc) -> String {
    let response = client()
        .post(app.url(&format!("/documents/{}", doc.id)))
        .bearer_auth(token)
        .multipart(document_form("v2.pdf", b"v2".to_vec()))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let record: Value = response.json().await.unwrap();
    crate::gateway::placeholder_id(&record)
}

/// Replaces the audience with one that no longer names Harry (its first record).
async fn remove_harry(app: &TestApp, token: &str, doc: &str) {
    let mut changed = audience();
    changed["data"]["records"].as_array_mut().unwrap().remove(0);
    put_json(app, token, &format!("/documents/{doc}/audience"), &changed).await;
}

async fn put_json(app: &TestApp, token: &str, path: &str, value: &Value) {
    let put = client()
        .put(app.url(path))
        .bearer_auth(token)
        .json(value)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
}

async fn a_replaced_or_deleted_placeholder_is_gone_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"v1", &[]).await;
    let old = format!("{}/{}", app.gateway, doc.placeholder);
    // Twice: the second answer comes from the cache.
    assert_eq!(status(&old).await, 303);
    assert_eq!(status(&old).await, 303);
    let new = format!("{}/{}", app.gateway, replace(&app, &token, &doc).await);
    assert_eq!(status(&old).await, 404, "the replaced placeholder");
    assert_eq!(status(&new).await, 303);
    assert_eq!(status(&new).await, 303);
    let deleted = app
        .delete(&token, &format!("/documents/{}", doc.id))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(status(&new).await, 404, "the deleted document");
}

async fn a_new_audience_or_challenge_is_enforced_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"members", &[("audience", audience())]).await;
    let harry = harry(&app, &doc);
    assert_eq!(status(&harry).await, 303);
    assert_eq!(status(&harry).await, 303);
    remove_harry(&app, &token, &doc.id).await;
    assert_eq!(status(&harry).await, 403, "Harry left the audience");
    let jane = harry
        .replace("4154445511", "4154445512")
        .replace("Harry", "Jane");
    assert_eq!(status(&jane).await, 303);
    let challenge = basic(literal("tiger"));
    put_json(
        &app,
        &token,
        &format!("/documents/{}/challenge", doc.id),
        &challenge,
    )
    .await;
    assert_eq!(
        status(&jane).await,
        401,
        "the new challenge asks for a password"
    );
}

async fn another_gateway_sees_changes_within_a_second(db: Db) {
    let app = TestApp::spawn(db).await;
    let second = Second::start(&app).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"members", &[("audience", audience())]).await;
    let on_second = harry(&app, &doc).replacen(&app.gateway, &second.gateway, 1);
    assert_eq!(status(&on_second).await, 303);
    remove_harry(&app, &token, &doc.id).await;
    assert_eq!(eventually(&on_second, 403).await, 403, "Harry left");
    let jane = on_second
        .replace("4154445511", "4154445512")
        .replace("Harry", "Jane");
    assert_eq!(status(&jane).await, 303);
    let deleted = app
        .delete(&token, &format!("/documents/{}", doc.id))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(eventually(&jane, 404).await, 404, "deleted");
    second.stop().await;
}
