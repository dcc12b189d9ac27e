//! `Idempotency-Key` on `POST /documents`, `POST /documents/{docId}` and
//! `POST /documents/{docId}/deliver` (issue 21, item 4; DESIGN, "Producer API details the spec
//! lost"): a retry answers the kept answer and does nothing again (one document, one delivery);
//! the key used for another request is 422; a request while the first runs is 409; keys are
//! per producer and environment; an expired key is forgotten; a failed request releases its key.

mod concurrent;
mod repo;

use reqwest::RequestBuilder;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::delivery::http::fulfillment;
use crate::delivery::peers::HttpReceiver;
use crate::delivery::{FAST, bearer, upload, wait_done};

on_both_databases!(
    a_retried_upload_answers_the_first_answer_and_creates_one_document,
    the_key_of_another_request_is_422,
    a_retried_update_is_not_applied_twice,
    a_retried_delivery_sends_once,
    keys_are_per_producer_and_environment_and_forgotten_once_expired,
    a_failed_request_releases_its_key,
    malformed_keys_are_400_naming_the_header,
);

pub const HEADER: &str = "Idempotency-Key";

/// The same upload each time (reqwest picks a new multipart boundary for every form, as real
/// clients do: the key must still recognise it).
pub fn form() -> Form {
    document_form("same.pdf", b"%PDF the same bytes".to_vec()).text("name", "same.pdf")
}

pub fn post(app: &TestApp, token: &str, path: &str, key: &str) -> RequestBuilder {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header(HEADER, key)
}

/// Status, the headers a replay repeats, and the body.
pub async fn answer(request: RequestBuilder) -> (u16, Vec<Option<String>>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = [
        "location",
        "content-location",
        "last-modified",
        "content-type",
    ]
    .iter()
    .map(|name| (response.headers().get(*name)).map(|value| value.to_str().unwrap().to_owned()))
    .collect();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// How many documents the token's producer has.
pub async fn documents(app: &TestApp, token: &str) -> usize {
    let list = app.get_json(token, "/documents").await;
    list["documents"].as_array().unwrap().len()
}

async fn a_retried_upload_answers_the_first_answer_and_creates_one_document(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let first = post(&app, &token, "/documents", "upload-1").multipart(form());
    let first = first.send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let (headers, body) = (first.headers().clone(), first.bytes().await.unwrap());
    let again = post(&app, &token, "/documents", "upload-1").multipart(form());
    let again = again.send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    for name in ["content-location", "last-modified", "content-type"] {
        assert_eq!(again.headers()[name], headers[name], "{name}");
    }
    assert_ne!(
        again.headers()["x-sealpost-signature-date"]
            .to_str()
            .unwrap(),
        "",
        "the replay is signed"
    );
    assert_eq!(again.bytes().await.unwrap(), body, "the same body");
    assert_eq!(documents(&app, &token).await, 1, "one document only");
    // A quoted key (the draft's Structured Field string) is the same key.
    let quoted = post(&app, &token, "/documents", "\"upload-1\"").multipart(form());
    let (status, _, record) = answer(quoted).await;
    let first: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, &record["id"]), (201, &first["id"]));
    assert_eq!(documents(&app, &token).await, 1);
}

async fn the_key_of_another_request_is_422(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let (status, ..) = answer(post(&app, &token, "/documents", "k").multipart(form())).await;
    assert_eq!(status, 201);
    let other = document_form("same.pdf", b"%PDF other bytes".to_vec()).text("name", "same.pdf");
    let (status, _, problem) = answer(post(&app, &token, "/documents", "k").multipart(other)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], HEADER);
    // Same body, another path: another request too.
    let id = upload(&app, &token, &Value::Null, &Value::Null).await;
    let elsewhere = post(&app, &token, &format!("/documents/{id}"), "k").multipart(form());
    let (status, _, problem) = answer(elsewhere).await;
    assert_eq!((status, &problem["field"]), (422, &json!(HEADER)));
    assert_eq!(documents(&app, &token).await, 2);
}

async fn a_retried_update_is_not_applied_twice(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = upload(&app, &token, &Value::Null, &Value::Null).await;
    let path = format!("/documents/{id}");
    let update = || Form::new().text("name", "renamed.pdf");
    let first = answer(post(&app, &token, &path, "u").multipart(update())).await;
    assert_eq!(first.0, 200, "{}", first.2);
    assert_eq!(first.2["name"], "renamed.pdf");
    // Changed since by a request without a key: a replay must not undo it.
    let later = app.client.post(app.url(&path)).bearer_auth(&token);
    let later = later.multipart(Form::new().text("name", "later.pdf"));
    assert_eq!(later.send().await.unwrap().status(), 200);
    let again = answer(post(&app, &token, &path, "u").multipart(update())).await;
    assert_eq!(again, first, "the kept answer");
    assert_eq!(app.get_json(&token, &path).await["name"], "later.pdf");
}

async fn a_retried_delivery_sends_once(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(&app, &token, &Value::Null, &fulfillment(&receiver)).await;
    let path = format!("/documents/{id}/deliver");
    let fields = || {
        Form::new()
            .text("campaign", "c")
            .text("api_token", "t")
            .text("email_address", "x@ipo.st")
            .text("first_name", "X")
    };
    let first = answer(post(&app, &token, &path, "d-1").multipart(fields())).await;
    assert_eq!(first.0, 202, "{}", first.2);
    let location = first.1[0].clone().unwrap();
    wait_done(&app.client, &bearer(&token), &location, 20).await;
    let again = answer(post(&app, &token, &path, "d-1").multipart(fields())).await;
    assert_eq!((again.0, &again.1[0]), (202, &Some(location.clone())));
    assert_eq!(
        again.2, first.2,
        "the kept answer (the status when first answered)"
    );
    // A later delivery without the key is a new one: the receiver sees two requests in all.
    let third = app.client.post(app.url(&path)).bearer_auth(&token);
    let third = answer(third.multipart(fields())).await;
    assert_ne!(third.1[0], Some(location));
    wait_done(
        &app.client,
        &bearer(&token),
        third.1[0].as_ref().unwrap(),
        20,
    )
    .await;
    assert_eq!(
        receiver.requests().await.len(),
        2,
        "one request per delivery"
    );
}

async fn keys_are_per_producer_and_environment_and_forgotten_once_expired(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let other = app.login_with(&app.add_producer("other").await).await;
    let (_, _, mine) = answer(post(&app, &token, "/documents", "shared").multipart(form())).await;
    let (status, _, theirs) =
        answer(post(&app, &other, "/documents", "shared").multipart(form())).await;
    assert_eq!(status, 201, "another producer's key is independent");
    assert_ne!(mine["id"], theirs["id"]);
    // The same producer's other environment: independent too.
    let test = login_in_test(&app).await;
    let (status, _, in_test) =
        answer(post(&app, &test, "/documents", "shared").multipart(form())).await;
    assert_eq!((status, &in_test["environment"]), (201, &json!("test")));
    assert_ne!(mine["id"], in_test["id"]);
    assert_eq!(
        (documents(&app, &token).await, documents(&app, &other).await),
        (1, 1)
    );
    assert_eq!(documents(&app, &test).await, 1);
    // 25 hours on, the key is gone: the same request is a new one.
    let repo = app.repo().await;
    let later = chrono::Utc::now() + chrono::Duration::hours(25);
    assert_eq!(repo.prune_idempotency_keys(later).await.unwrap(), 3);
    let (status, _, again) =
        answer(post(&app, &token, "/documents", "shared").multipart(form())).await;
    assert_eq!(status, 201);
    assert_ne!(again["id"], mine["id"]);
    assert_eq!(documents(&app, &token).await, 2);
}

/// The default producer's token in the test environment.
async fn login_in_test(app: &TestApp) -> String {
    let form = Form::new()
        .text("key", app.default_key())
        .text("email", "operator@example.com")
        .text("environment", "test");
    let response = app.client.post(app.url("/login")).multipart(form);
    let response = response.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"].to_str().unwrap();
    for part in token.split(' ') {
        crate::secrets::record("login token", part);
    }
    token.to_owned()
}

async fn a_failed_request_releases_its_key(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let past = form().text("expiration", "2001-01-01T00:00:00Z");
    let (status, _, problem) = answer(post(&app, &token, "/documents", "f").multipart(past)).await;
    assert_eq!((status, &problem["field"]), (400, &json!("expiration")));
    assert_eq!(documents(&app, &token).await, 0);
    // The corrected request may use the key: it is done, and kept.
    let (status, _, record) = answer(post(&app, &token, "/documents", "f").multipart(form())).await;
    assert_eq!(status, 201);
    let (status, _, again) = answer(post(&app, &token, "/documents", "f").multipart(form())).await;
    assert_eq!((status, &again["id"]), (201, &record["id"]));
    assert_eq!(documents(&app, &token).await, 1);
}

async fn malformed_keys_are_400_naming_the_header(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let long = "k".repeat(256);
    let non_ascii = reqwest::header::HeaderValue::from_bytes("clé".as_bytes()).unwrap();
    let requests = [
        post(&app, &token, "/documents", ""),
        post(&app, &token, "/documents", &long),
        post(&app, &token, "/documents", "\"unterminated"),
        (app.client.post(app.url("/documents")).bearer_auth(&token)).header(HEADER, non_ascii),
    ];
    for request in requests {
        let (status, _, problem) = answer(request.multipart(form())).await;
        assert_eq!(
            (status, &problem["field"]),
            (400, &json!(HEADER)),
            "{problem}"
        );
    }
    let longest = "k".repeat(255);
    let (status, ..) = answer(post(&app, &token, "/documents", &longest).multipart(form())).await;
    assert_eq!(status, 201);
    assert_eq!(documents(&app, &token).await, 1);
}
