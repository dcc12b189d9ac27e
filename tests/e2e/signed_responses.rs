//! Signed responses (issue 17, item 1; DESIGN.md, "Signed responses"): walking
//! `api_server::routes::ROUTES`, every answer, valid request or not, whatever its status, empty
//! bodies included, carries `x-sealpost-signature` over the exact bytes sent, verified with the
//! key `GET /.well-known/sealpost-keys` publishes; a flipped body byte fails. The exceptions:
//! a successful `GET /logs{/docId}` (signed inside its zip) and a document's content (the
//! signature stored at upload, the same the handle endpoint sends).

use std::collections::BTreeSet;

use api_server::routes::{ROUTES, Route};
use api_server::signed_responses::STREAMED;
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::multipart::Form;
use reqwest::{Method, RequestBuilder};
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::{KeySet, sha256_hex};

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::credentials::scopes::path_of;
use crate::logs_export::keys;

on_both_databases!(
    every_answer_of_every_route_is_signed,
    rate_limited_answers_are_signed,
);

/// One answer, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap(),
    }
}

pub(crate) fn verify(keys: &KeySet, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .ok_or_else(|| format!("no {name}"))
    };
    let (signature, date) = (header(SIGNATURE_HEADER)?, header(SIGNATURE_DATE_HEADER)?);
    httpdate::parse_http_date(&date).map_err(|error| error.to_string())?;
    content_signature::verify(keys, &signature, &date, &sha256_hex(body)).map_err(|e| e.to_string())
}

/// Checks `answer` is signed (unless it is an export, signed inside its zip) and never a 5xx;
/// returns its status.
fn check(keys: &KeySet, route: &Route, what: &str, answer: &Answer) -> u16 {
    assert!(answer.status < 500, "{what}: {}", answer.status);
    let export = route.method == "GET"
        && route.path.starts_with("/logs")
        && STREAMED.contains(&route.path)
        && (200..300).contains(&answer.status);
    if !export {
        verify(keys, &answer.headers, &answer.body)
            .unwrap_or_else(|error| panic!("{what} ({}): {error}", answer.status));
    }
    answer.status
}

/// The request a client would send to `route` (a body where the route takes one).
fn valid(app: &TestApp, route: &Route, path: &str, token: &str) -> RequestBuilder {
    let method = Method::from_bytes(route.method.as_bytes()).unwrap();
    let request = app.client.request(method, app.url(path)).bearer_auth(token);
    match (route.method, route.path) {
        ("POST", "/login") => app.client.post(app.url(path)).multipart(
            Form::new()
                .text("key", app.default_key())
                .text("email", "walk@example.com"),
        ),
        ("POST", "/documents") => request.multipart(document_form("walk.pdf", b"walk".to_vec())),
        ("POST", "/documents/{doc_id}") => {
            request.multipart(Form::new().text("metadata", r#"{"walk": 1}"#))
        }
        ("PUT", "/documents/{doc_id}/document") => request
            .header("content-type", "text/plain")
            .body("replaced"),
        ("PUT", "/documents/{doc_id}/{part}") => request.json(&serde_json::json!({"walk": 2})),
        ("POST", "/keys") => request.json(&serde_json::json!({"name": "walk", "scopes": ["read"]})),
        ("PUT", "/producer/allowlist") => request.json(&serde_json::json!([])),
        _ => request,
    }
}

async fn every_answer_of_every_route_is_signed(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.max_json_part_bytes", "1000")]).await;
    let token = app.login().await;
    let keys = keys(&app).await;
    let mut seen = BTreeSet::new();
    for route in ROUTES {
        // A document of its own for each route: the walk may delete it.
        let doc = app.upload(&token, "walk.pdf", b"walk".to_vec()).await;
        let doc_id = doc["id"].as_str().unwrap();
        let path = path_of(route, doc_id);
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        // POST /logout revokes the token it is sent with: a token of its own (`own`).
        let own = if route.path == "/logout" {
            app.login().await
        } else {
            token.clone()
        };
        let requests = [
            ("valid", valid(&app, route, &path, &own)),
            (
                "malformed",
                (app.client.request(method.clone(), app.url(&path)))
                    .bearer_auth(&own)
                    .header("content-type", "application/json")
                    .body("{"),
            ),
            (
                "no credential",
                app.client.request(method.clone(), app.url(&path)),
            ),
            (
                "unknown credential",
                (app.client.request(method.clone(), app.url(&path))).bearer_auth("sp-nope"),
            ),
            (
                "unknown document",
                (app.client
                    .request(method.clone(), app.url(&path_of(route, "no-such-doc"))))
                .bearer_auth(&own),
            ),
        ];
        for (kind, request) in requests {
            let what = format!("{} {} ({kind})", route.method, route.path);
            seen.insert(check(&keys, route, &what, &send(request).await));
        }
        let wrong_method = app.client.patch(app.url(&path)).bearer_auth(&own);
        let what = format!("PATCH {}", route.path);
        seen.insert(check(&keys, route, &what, &send(wrong_method).await));
    }
    for status in [200, 201, 204, 400, 401, 404, 405] {
        assert!(seen.contains(&status), "no {status} among {seen:?}");
    }
    too_large_is_signed(&app, &token, &keys).await;
    content_carries_its_stored_signature(&app, &token, &keys).await;
    flipped_byte_fails(&app, &token, &keys).await;
}

/// 413: a JSON part over `api.max_json_part_bytes`.
async fn too_large_is_signed(app: &TestApp, token: &str, keys: &KeySet) {
    let form = document_form("big.pdf", b"big".to_vec()).text("metadata", "x".repeat(5000));
    let answer = send(
        app.client
            .post(app.url("/documents"))
            .bearer_auth(token)
            .multipart(form),
    )
    .await;
    assert_eq!(answer.status, 413);
    verify(keys, &answer.headers, &answer.body).unwrap();
}

/// A document's content, streamed through the API, carries the signature stored at upload: the
/// very header values the handle endpoint sends, not a signature made anew.
async fn content_carries_its_stored_signature(app: &TestApp, token: &str, keys: &KeySet) {
    let doc = app
        .upload(token, "content.pdf", b"content bytes".to_vec())
        .await;
    let id = doc["id"].as_str().unwrap();
    let api = send(
        app.client
            .get(app.url(&format!("/documents/{id}/document")))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(api.status, 200);
    assert_eq!(api.body.as_ref(), b"content bytes");
    verify(keys, &api.headers, &api.body).unwrap();
    let handle = send(app.client.get(app.handle_url(id, 300).await)).await;
    assert_eq!(handle.status, 200);
    for name in [SIGNATURE_HEADER, SIGNATURE_DATE_HEADER] {
        assert_eq!(api.headers.get(name), handle.headers.get(name), "{name}");
    }
}

/// One flipped byte of a signed answer, or another answer's signature, fails verification; an
/// empty body is signed over the empty body's SHA-256.
async fn flipped_byte_fails(app: &TestApp, token: &str, keys: &KeySet) {
    let doc = app.upload(token, "flip.pdf", b"flip".to_vec()).await;
    let id = doc["id"].as_str().unwrap();
    let record = send(app.get(token, &format!("/documents/{id}"))).await;
    assert_eq!(record.status, 200);
    verify(keys, &record.headers, &record.body).unwrap();
    let mut flipped = record.body.to_vec();
    flipped[0] ^= 1;
    assert!(verify(keys, &record.headers, &flipped).is_err());
    let last = flipped.len() - 1;
    flipped[0] ^= 1;
    flipped[last] ^= 0x20;
    assert!(verify(keys, &record.headers, &flipped).is_err());

    let deleted = send(app.delete(token, &format!("/documents/{id}"))).await;
    assert!(deleted.body.is_empty(), "{}", deleted.status);
    verify(keys, &deleted.headers, b"").unwrap();
    assert!(verify(keys, &deleted.headers, b" ").is_err());
    assert!(verify(keys, &record.headers, b"").is_err());
}

/// 429: with a bucket of one, a burst meets the limit; every answer, refused or not, is signed.
async fn rate_limited_answers_are_signed(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.rate_per_sec", "1"), ("api.rate_burst", "1")]).await;
    let token = app.login().await;
    let keys = keys(&app).await;
    let route = ROUTES
        .iter()
        .find(|route| route.method == "GET" && route.path == "/documents")
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = send(app.get(&token, "/documents")).await;
        statuses.push(check(&keys, route, "GET /documents", &answer));
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}
