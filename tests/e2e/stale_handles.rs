//! Issue 14, finding 6: a handle does not outlive a change of who may read the document. Every
//! change of audience or challenge (PUT of the part, or POST with a new one) refuses the handles
//! issued before it, and the vault logs the refusal; a handle minted after the change works,
//! and a metadata-only change leaves handles alone.

use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{Doc, basic, create, harry, literal, no_redirects};

on_both_databases!(
    put_audience_refuses_handles_issued_before,
    post_update_with_a_new_audience_refuses_handles_issued_before,
    put_challenge_refuses_handles_issued_before,
    metadata_changes_keep_handles,
);

/// Harry and Jane, viewer token `{?telephone,first_name}`.
fn both() -> Value {
    crate::gateway::audience()
}

/// The same audience without Harry.
fn jane_only() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": [
        {"telephone": "4154445512", "first_name": "Jane", "pin": "jane:hunter2", "code": "lion", "city": "Paris"}
    ]}})
}

fn jane(app: &TestApp, placeholder: &str) -> String {
    format!(
        "{}/{placeholder}?telephone=4154445512&first_name=Jane",
        app.gateway
    )
}

/// The handle URL a 303 from the gateway points at.
async fn handle_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "{:?}", response.headers());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/h/"), "{location}");
    crate::secrets::record("handle", location.rsplit('/').next().unwrap());
    location
}

/// A document request through the gateway, answered with a handle.
async fn handle(url: &str) -> String {
    handle_of(no_redirects().get(url).send().await.unwrap()).await
}

/// The status of a download with `handle`, after reading its body.
async fn download(handle: &str) -> u16 {
    let response = reqwest::get(handle).await.unwrap();
    let status = response.status().as_u16();
    response.bytes().await.unwrap();
    status
}

async fn put_json(app: &TestApp, token: &str, path: &str, value: &Value) {
    let response = app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .json(value)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

/// The vault log's error codes of requests for document `id`, once the writer flushed them.
async fn vault_codes(app: &TestApp, id: &str) -> Vec<String> {
    for _ in 0..100 {
        let lines = crate::vault_log::all_lines(app).await;
        let codes: Vec<String> = lines
            .iter()
            .filter(|line| line.contains(id))
            .filter_map(|line| line.split('\t').nth(8).map(str::to_owned))
            .collect();
        if codes.iter().any(|code| code != "-") {
            return codes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Vec::new()
}

async fn put_audience_refuses_handles_issued_before(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"audience v1", &[("audience", both())]).await;
    let harrys = handle(&harry(&app, &doc)).await;
    let janes = handle(&jane(&app, &doc.placeholder)).await;
    assert_eq!(download(&harrys).await, 200);

    put_json(
        &app,
        &token,
        &format!("/documents/{}/audience", doc.id),
        &jane_only(),
    )
    .await;
    // Harry was removed: his handle is refused at once, like one to changed content. Jane's
    // handle was issued under the old audience too, so it goes the same way.
    assert_eq!(download(&harrys).await, 410);
    assert_eq!(download(&janes).await, 410);
    // Harry gets no new handle; Jane's new one works.
    let again = no_redirects().get(harry(&app, &doc)).send().await.unwrap();
    assert_ne!(again.status(), 303);
    assert_eq!(
        download(&handle(&jane(&app, &doc.placeholder)).await).await,
        200
    );
    let codes = vault_codes(&app, &doc.id).await;
    assert!(
        codes.iter().any(|code| code == "AccessChanged"),
        "the refusal is in the vault log: {codes:?}"
    );
}

async fn post_update_with_a_new_audience_refuses_handles_issued_before(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"post v1", &[("audience", both())]).await;
    let harrys = handle(&harry(&app, &doc)).await;
    assert_eq!(download(&harrys).await, 200);

    let form = Form::new().text("audience", jane_only().to_string());
    let response = app
        .client
        .post(app.url(&format!("/documents/{}", doc.id)))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    assert_eq!(download(&harrys).await, 410);
    let placeholder = crate::gateway::placeholder_id(&record);
    assert_eq!(
        download(&handle(&jane(&app, &placeholder)).await).await,
        200
    );
}

async fn put_challenge_refuses_handles_issued_before(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc: Doc = create(
        &app,
        &token,
        b"challenge v1",
        &[("challenge", basic(literal("opensesame")))],
    )
    .await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let ask = |password: &'static str| {
        no_redirects()
            .get(&url)
            .basic_auth("viewer", Some(password))
            .send()
    };
    let old = handle_of(ask("opensesame").await.unwrap()).await;
    assert_eq!(download(&old).await, 200);

    put_json(
        &app,
        &token,
        &format!("/documents/{}/challenge", doc.id),
        &basic(literal("new-secret")),
    )
    .await;
    assert_eq!(download(&old).await, 410);
    let new = handle_of(ask("new-secret").await.unwrap()).await;
    assert_eq!(download(&new).await, 200);
}

/// Metadata, name and landing-page changes say nothing about who may read: handles stay valid
/// (a deliberate choice; docs/security.md).
async fn metadata_changes_keep_handles(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"metadata v1", &[("audience", both())]).await;
    let harrys = handle(&harry(&app, &doc)).await;
    put_json(
        &app,
        &token,
        &format!("/documents/{}/metadata", doc.id),
        &json!({"v": 2}),
    )
    .await;
    assert_eq!(download(&harrys).await, 200);
    // The same audience put again changes nothing either.
    put_json(
        &app,
        &token,
        &format!("/documents/{}/audience", doc.id),
        &both(),
    )
    .await;
    assert_eq!(download(&harrys).await, 200);
}
