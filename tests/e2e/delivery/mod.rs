//! `POST /documents/{docId}/deliver`: deliveries through real peers on loopback (an HTTP
//! receiver and an XML-RPC server in Python's standard library, an SMTP sink from PyPI's
//! `aiosmtpd`; scripts in `tests/peers/`), their faults, and a crash mid-delivery.

mod api;
mod batch;
mod crash;
mod egress;
mod email;
mod faults;
pub(crate) mod http;
pub(crate) mod peers;
mod shared_queue;
mod starttls;
mod xmlrpc;

use std::time::Duration;

use futures_util::TryStreamExt as _;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{TestApp, document_form};

/// Settings that make the retry schedule run in well under a second.
pub const FAST: &[(&str, &str)] = &[
    ("delivery.poll_ms", "50"),
    ("delivery.backoff_base_ms", "50"),
    ("delivery.backoff_max_ms", "200"),
    ("delivery.timeout_ms", "2000"),
    ("delivery.lease_ms", "3000"),
    ("delivery.max_attempts", "40"),
];

/// Three viewers; the second name is not ASCII, the telephone of the second holds spaces.
pub fn three_records() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": [
        {"telephone": "4154445511", "first_name": "Harry", "email_address": "h@ipo.st"},
        {"telephone": "+1 555 0100", "first_name": "Zoë", "email_address": "z@ipo.st"},
        {"telephone": "4154445513", "first_name": "Ann", "email_address": "a@ipo.st"}
    ]}})
}

/// `count` viewers `v{i}@ipo.st`, each with a viewer token.
pub fn many_records(count: usize) -> Value {
    let records: Vec<Value> = (0..count)
        .map(
            |i| json!({"telephone": format!("555{i:07}"), "email_address": format!("v{i}@ipo.st")}),
        )
        .collect();
    json!({"type": "records", "viewerToken": "{?telephone}", "data": {"records": records}})
}

/// Uploads a document with `audience` and `fulfillment` (either may be JSON `null`); its id.
pub async fn upload(app: &TestApp, token: &str, audience: &Value, fulfillment: &Value) -> String {
    let form = document_form("deliver.pdf", b"%PDF delivered".to_vec())
        .text("audience", audience.to_string())
        .text("fulfillment", fulfillment.to_string());
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    record["id"].as_str().unwrap().to_owned()
}

/// `POST /documents/{id}/deliver` with `fields`. Their values may be the fulfillment
/// service's credentials (the spec puts them there): the secret grep checks no log holds one.
pub async fn post_deliver(
    app: &TestApp,
    token: &str,
    id: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let request = app
        .client
        .post(app.url(&format!("/documents/{id}/deliver")))
        .bearer_auth(token);
    // No fields: no body at all (a multipart body needs at least one part, RFC 2046 §5.1.1).
    if fields.is_empty() {
        return request.send().await.unwrap();
    }
    let mut form = Form::new();
    for (name, value) in fields {
        crate::secrets::record("deliver form field", value);
        form = form.text(name.to_string(), value.to_string());
    }
    request.multipart(form).send().await.unwrap()
}

/// Delivers and returns the delivery's `Location`, checking the 202 answer.
pub async fn deliver(app: &TestApp, token: &str, id: &str, fields: &[(&str, &str)]) -> String {
    let response = post_deliver(app, token, id, fields).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["links"]["self"], location.as_str());
    assert_eq!(body["document"], id);
    assert!(
        location.starts_with(&format!("{}/documents/{id}/deliveries/", app.api)),
        "{location}"
    );
    location
}

/// Against a `sealpost up` daemon (`auth` its `Authorization`): uploads a document with
/// `audience` and `fulfillment`, asks for its delivery with `fields` (no body when empty) and
/// returns the delivery's `Location`, checking the 201 and 202 answers.
pub async fn daemon_deliver(
    daemon: &crate::cli::Daemon,
    auth: &str,
    audience: &Value,
    fulfillment: &Value,
    fields: &[(&str, &str)],
) -> String {
    let api = format!("http://{}", daemon.api_addr);
    let client = reqwest::Client::new();
    let form = document_form("deliver.pdf", b"%PDF delivered".to_vec())
        .text("audience", audience.to_string())
        .text("fulfillment", fulfillment.to_string());
    let response = (client.post(format!("{api}/documents")))
        .header("Authorization", auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap();
    let mut request =
        (client.post(format!("{api}/documents/{id}/deliver"))).header("Authorization", auth);
    if !fields.is_empty() {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        request = request.multipart(form);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202);
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The delivery's status JSON.
pub async fn status(client: &reqwest::Client, auth: &str, location: &str) -> Value {
    let response = client
        .get(location)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls the delivery until no job is queued (at most `seconds`).
pub async fn wait_done(
    client: &reqwest::Client,
    auth: &str,
    location: &str,
    seconds: u64,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let status = status(client, auth, location).await;
        if status["state"] == "done" {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivery not done in {seconds} s: {status}"
        );
        // Polling reads every job: a large delivery is polled less often.
        let recipients = status["recipients"].as_array().map_or(0, Vec::len) as u64;
        tokio::time::sleep(Duration::from_millis(50 + recipients / 20)).await;
    }
}

/// `Authorization` for `token` (as `TestApp::login` returns it).
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The API-log lines of document `id` (the default producer's), as stored.
pub async fn api_log(app: &TestApp, id: &str) -> Vec<String> {
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap();
    let document = schema::DocumentId::parse(id).unwrap();
    let from = chrono::Utc::now() - chrono::Duration::hours(1);
    let to = chrono::Utc::now() + chrono::Duration::hours(1);
    repo.export_log(
        schema::LogKind::Api,
        &schema::Tenant::live(producer.id.clone()),
        Some(&document),
        from,
        to,
    )
    .map_ok(|line| line.fields)
    .try_collect()
    .await
    .unwrap()
}

/// Opens a sealed link at the gateway: 303 to the document request of `token_query`.
pub async fn assert_link_opens(app: &TestApp, link: &str, token_query: &str) {
    // A sealed link is a credential: the suite-wide secret grep checks no log holds it.
    crate::secrets::record("sealed link", link);
    assert!(link.starts_with(&format!("{}/l/", app.gateway)), "{link}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(link).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with('/'), "{location}");
    assert!(
        location.ends_with(token_query),
        "{location} vs {token_query}"
    );
    // The document request it names is served: the viewer gets a handle (no challenge here).
    let response = client
        .get(format!("{}{location}", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{location}");
}

/// The viewer-token query of record `i` of [`three_records`], as the gateway redirects to it.
pub fn token_query(i: usize) -> &'static str {
    [
        "?telephone=4154445511&first_name=Harry",
        "?telephone=%2B1+555+0100&first_name=Zo%C3%AB",
        "?telephone=4154445513&first_name=Ann",
    ][i]
}
