//! The viewer-facing gateway (issue 5): document requests, audiences, challenges, limits,
//! landing pages, sealed links and the gateway access log, driven by real clients.

mod challenges;
mod clients;
mod hostile;
mod limits;
mod pages;
mod races;
mod requests;

use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::common::{TestApp, document_form};

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A created document: its id and placeholder id.
pub struct Doc {
    pub id: String,
    pub placeholder: String,
}

/// Uploads `content` with the given JSON objects (`("audience", …)`, …).
pub async fn create(app: &TestApp, token: &str, content: &[u8], objects: &[(&str, Value)]) -> Doc {
    let mut form = document_form("report.pdf", content.to_vec());
    for (name, value) in objects {
        form = form.text((*name).to_owned(), value.to_string());
    }
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    Doc {
        id: record["id"].as_str().unwrap().to_owned(),
        placeholder: placeholder_id(&record),
    }
}

/// The placeholder id inside a record's `links.placeholder` href.
pub fn placeholder_id(record: &Value) -> String {
    let href = record["links"]["placeholder"]["href"].as_str().unwrap();
    let rest = href.rsplit('/').next().unwrap();
    rest.split('{').next().unwrap().to_owned()
}

pub fn audience() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": [
        {"telephone": "4154445511", "first_name": "Harry", "pin": "harry:s3cret", "code": "tiger", "city": "Zoë Town"},
        {"telephone": "4154445512", "first_name": "Jane", "pin": "jane:hunter2", "code": "lion", "city": "Paris"}
    ]}})
}

pub fn basic(access: Value) -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Reports", "scheme": "basic", "access": access}})
}

pub fn digest(access: Value) -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Reports", "scheme": "digest", "access": access}})
}

pub fn literal(value: &str) -> Value {
    json!({"type": "literal", "value": value})
}

pub fn field(name: &str) -> Value {
    json!({"type": "field", "value": name})
}

/// The document request of Harry (record 0).
pub fn harry(app: &TestApp, doc: &Doc) -> String {
    format!(
        "{}/{}?telephone=4154445511&first_name=Harry",
        app.gateway, doc.placeholder
    )
}

/// Follows a 303 to the handle and returns the document's bytes.
pub async fn fetch_handle(response: reqwest::Response) -> Vec<u8> {
    assert_eq!(response.status(), 303, "{:?}", response.headers());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("/h/"), "{location}");
    let body = reqwest::get(&location).await.unwrap();
    assert_eq!(body.status(), 200);
    body.bytes().await.unwrap().to_vec()
}

/// Every gateway log line so far, after the writer committed them.
pub async fn gateway_lines(app: &TestApp) -> Vec<String> {
    let repo = app.repo().await;
    let from = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let to = chrono::Utc::now() + chrono::Duration::days(1);
    repo.gateway_log(None, None, from, to)
        .await
        .unwrap()
        .into_iter()
        .map(|line| line.fields)
        .collect()
}
