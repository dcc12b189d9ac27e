//! Issue 14, finding 7: active content through the producer API. Content read back with
//! `GET /documents/{docId}/document` carries the vault's protections (one function decides
//! both), and a malformed media type is refused (422 naming the field) on every path that
//! stores one, instead of being stored and replayed as a header.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    html_read_back_through_the_api_is_sandboxed,
    injected_media_types_are_refused_on_every_path,
    plain_text_with_a_charset_still_works_and_is_normalised,
);

/// The value an attacker sends: a closed quote and an extra parameter.
const INJECTED: &str = "text/html; charset=utf-8\"; x=\"y";
const HTML: &[u8] = b"<!doctype html><script>fetch('/documents').then(r=>r.text())</script>";
const BOUNDARY: &str = "h4-boundary-7f3a9c";

/// A multipart body with one `document` part of type `media_type` (written by hand: reqwest's
/// form builder refuses a malformed type before sending it).
fn raw_form(name: &str, media_type: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{name}\"\r\n\
         Content-Type: {media_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn send_form(
    app: &TestApp,
    token: &str,
    path: &str,
    name: &str,
    media_type: &str,
    content: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(raw_form(name, media_type, content))
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, name: &str, media_type: &str, content: &[u8]) -> Value {
    let response = send_form(app, token, "/documents", name, media_type, content).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn put_content(
    app: &TestApp,
    token: &str,
    id: &str,
    media_type: &str,
    content: &[u8],
) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/documents/{id}/document")))
        .bearer_auth(token)
        .header("content-type", media_type)
        .body(content.to_vec())
        .send()
        .await
        .unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

/// The protective headers, in a comparable form.
fn protections(headers: &HeaderMap) -> Vec<(&'static str, String)> {
    [
        "content-type",
        "content-disposition",
        "content-security-policy",
        "x-content-type-options",
        "cache-control",
    ]
    .into_iter()
    .map(|name| (name, header(headers, name).to_owned()))
    .collect()
}

async fn assert_unprocessable(response: reqwest::Response, field: &str) {
    assert_eq!(response.status(), 422);
    assert_eq!(
        header(response.headers(), "content-type"),
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], field, "{problem}");
}

async fn html_read_back_through_the_api_is_sandboxed(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let record = upload(&app, &token, "page.html", "text/html", HTML).await;
    let id = record["id"].as_str().unwrap();

    let response = app
        .get(&token, &format!("/documents/{id}/document"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(response.bytes().await.unwrap(), HTML);
    assert_eq!(header(&headers, "content-security-policy"), "sandbox");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    let disposition = header(&headers, "content-disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");

    // The vault answers a viewer with the very same protections.
    let handle = app.handle_url(id, 300).await;
    let viewer = reqwest::get(&handle).await.unwrap();
    assert_eq!(viewer.status(), 200);
    assert_eq!(protections(viewer.headers()), protections(&headers));
}

async fn injected_media_types_are_refused_on_every_path(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let refused = send_form(&app, &token, "/documents", "x.html", INJECTED, HTML).await;
    assert_unprocessable(refused, "document").await;

    let record = upload(&app, &token, "ok.txt", "text/plain", b"fine").await;
    let id = record["id"].as_str().unwrap();
    let path = format!("/documents/{id}");
    let refused = send_form(&app, &token, &path, "x.html", INJECTED, HTML).await;
    assert_unprocessable(refused, "document").await;
    let refused = put_content(&app, &token, id, INJECTED, HTML).await;
    assert_unprocessable(refused, "Content-Type").await;
    for junk in ["text/html; charset", "*/*", "text", "text/plain; a=\"b"] {
        let refused = put_content(&app, &token, id, junk, HTML).await;
        assert_unprocessable(refused, "Content-Type").await;
    }

    // Nothing changed.
    let now = app.get_json(&token, &path).await;
    assert_eq!(now["mediaType"], "text/plain", "{now}");
    let content = app
        .get(&token, &format!("/documents/{id}/document"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(content.headers(), "content-type"), "text/plain");
    assert_eq!(content.bytes().await.unwrap(), "fine");
}

async fn plain_text_with_a_charset_still_works_and_is_normalised(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let record = upload(&app, &token, "a.txt", "text/plain; charset=utf-8", b"one").await;
    assert_eq!(record["mediaType"], "text/plain; charset=utf-8");
    let id = record["id"].as_str().unwrap();
    let read = |path: String| app.get(&token, &path).send();
    let response = read(format!("/documents/{id}/document")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "content-type"),
        "text/plain; charset=utf-8"
    );
    let disposition = header(response.headers(), "content-disposition");
    assert!(disposition.starts_with("inline;"), "{disposition}");

    let response = put_content(&app, &token, id, "Text/Plain; Charset=\"UTF-8\"", b"two").await;
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    let now = app.get_json(&token, &format!("/documents/{id}")).await;
    assert_eq!(now["mediaType"], "text/plain; charset=utf-8", "{now}");
}
