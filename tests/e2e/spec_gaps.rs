//! The spec's last gaps (issue 22, item 4): an `octet-stream` audience's `data` reaches the
//! fulfillment service (template variable `data`; an XML-RPC `<base64>` parameter where a
//! template is exactly `{data}`), byte for byte at real receivers; `Content-Location` on
//! `GET` and `POST /documents/{docId}` as on Create; the high-security browse 405 and the
//! `DELETE …/document` 409 with the spec's empty bodies, signed all the same.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use reqwest::header::HeaderMap;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use shared::content_signature::{self, SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};
use shared::logzip::sha256_hex;

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::delivery::peers::{HttpReceiver, Peer};
use crate::delivery::{FAST, bearer, deliver, upload, wait_done};
use crate::logs_export::keys;
use crate::updates::literal_challenge;

on_both_databases!(
    octet_stream_data_reaches_an_http_receiver_byte_for_byte,
    octet_stream_data_reaches_an_xmlrpc_receiver_as_base64,
    record_and_update_answer_content_location_as_create_does,
    the_spec_empty_answers_are_empty_and_signed,
);

/// Every byte value, and one more: 257 bytes, so the base64 text holds `+`, `/` and `==`.
fn opaque_bytes() -> Vec<u8> {
    (0..=255u8).rev().chain([0]).collect()
}

/// Uploads a document whose audience is `octet-stream` with `data` (base64 text; it needs a
/// literal challenge, as the spec says) and `fulfillment`; its id.
async fn upload_octet_stream(
    app: &TestApp,
    token: &str,
    data: &str,
    fulfillment: &Value,
) -> String {
    let audience = json!({"type": "octet-stream", "viewerToken": "{?email_address}", "data": data});
    let form = document_form("opaque.pdf", b"%PDF opaque".to_vec())
        .text("audience", audience.to_string())
        .text("challenge", literal_challenge().to_string())
        .text("fulfillment", fulfillment.to_string());
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    record["id"].as_str().unwrap().to_owned()
}

/// Percent-decodes a form value (the receiver got `%2B`, `%2F`, `%3D` for `+`, `/`, `=`).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn octet_stream_data_reaches_an_http_receiver_byte_for_byte(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let fulfillment = json!({"type": "http", "href": format!("{}/hook", receiver.0.url()),
        "body": "data={data}&doc={docId}"});
    let data = opaque_bytes();
    let id = upload_octet_stream(&app, &token, &STANDARD.encode(&data), &fulfillment).await;
    let location = deliver(&app, &token, &id, &[("data", "a form field loses")]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(status["counts"]["sent"], 1, "{status}");
    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 1);
    let body = STANDARD
        .decode(requests[0]["body"].as_str().unwrap())
        .unwrap();
    let body = String::from_utf8(body).unwrap();
    let encoded = STANDARD
        .encode(&data)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    assert_eq!(body, format!("data={encoded}&doc={id}"), "byte for byte");
    let value = body
        .strip_prefix("data=")
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(STANDARD.decode(percent_decode(value)).unwrap(), data);
}

/// The raw body and the decoded `<base64>` parameter of each call the XML-RPC receiver took.
async fn xmlrpc_calls(server: &Peer) -> String {
    let body = "<?xml version=\"1.0\"?><methodCall><methodName>sealpost_test.calls</methodName><params/></methodCall>";
    let answer = reqwest::Client::new()
        .post(format!("{}/RPC2", server.url()))
        .header("Content-Type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    answer.text().await.unwrap()
}

/// The text of the first `<{tag}>` element after `from` in `xml`.
fn element<'a>(xml: &'a str, from: &str, tag: &str) -> &'a str {
    let rest = &xml[xml.find(from).unwrap()..];
    let start = rest.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = rest[start..].find(&format!("</{tag}>")).unwrap();
    &rest[start..start + end]
}

async fn octet_stream_data_reaches_an_xmlrpc_receiver_as_base64(db: Db) {
    let server = Peer::start("xmlrpc_receiver.py", &["0"]);
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let fulfillment = json!({"type": "xmlrpc", "href": format!("{}/RPC2", server.url()),
        "methodName": "mailing.trigger", "params": ["{data}", "{docId}", "as text: {+data}"]});
    // Stored without its padding (accepted): the `<base64>` parameter gets it back, since
    // Python's xmlrpc refuses unpadded base64; the text template gets the data as stored.
    let data = opaque_bytes();
    let stored = STANDARD_NO_PAD.encode(&data);
    let id = upload_octet_stream(&app, &token, &stored, &fulfillment).await;
    let location = deliver(&app, &token, &id, &[]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(status["counts"]["sent"], 1, "{status}");
    let calls = xmlrpc_calls(&server).await;
    let text = STANDARD.encode(&data);
    let raw = element(&calls, "<name>raw</name>", "string").replace("&lt;", "<");
    let raw = raw.replace("&gt;", ">").replace("&amp;", "&");
    let expected = format!(
        "<?xml version=\"1.0\"?>\n<methodCall><methodName>mailing.trigger</methodName><params>\
         <param><value><base64>{text}</base64></value></param>\
         <param><value><string>{id}</string></value></param>\
         <param><value><string>as text: {stored}</string></value></param>\
         </params></methodCall>\n"
    );
    assert_eq!(raw, expected, "byte for byte");
    // Python's xmlrpc decoded the parameter as bytes (it answers them as `<base64>` again).
    let decoded = element(&calls, "<name>params</name>", "base64");
    let decoded: String = decoded.split_whitespace().collect();
    assert_eq!(
        STANDARD.decode(decoded).unwrap(),
        data,
        "the bytes themselves"
    );
}

async fn record_and_update_answer_content_location_as_create_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let response = app
        .upload_form(&token, document_form("c.pdf", b"%PDF".to_vec()))
        .await;
    assert_eq!(response.status(), 201);
    let created = response.headers()["content-location"].clone();
    let record: Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap();
    assert_eq!(created, format!("{}/documents/{id}", app.api).as_str());
    assert_eq!(created, record["links"]["self"]["href"].as_str().unwrap());
    let read = app
        .get(&token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["content-location"], created);
    let update = (app
        .client
        .post(app.url(&format!("/documents/{id}")))
        .bearer_auth(&token))
    .multipart(Form::new().text("name", "d.pdf"));
    let updated = update.send().await.unwrap();
    assert_eq!(updated.status(), 200);
    assert_eq!(updated.headers()["content-location"], created);
}

/// Checks the answer's signature over `body` against the instance's published keys.
async fn assert_signed(app: &TestApp, headers: &HeaderMap, body: &[u8]) {
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let (signature, date) = (header(SIGNATURE_HEADER), header(SIGNATURE_DATE_HEADER));
    content_signature::verify(&keys(app).await, &signature, &date, &sha256_hex(body)).unwrap();
}

async fn the_spec_empty_answers_are_empty_and_signed(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.security", "high")]).await;
    let token = app.login().await;
    let browse = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(browse.status(), 405);
    assert_eq!(browse.headers()["allow"], "POST");
    assert!(browse.headers().get("content-type").is_none());
    let headers = browse.headers().clone();
    let body = browse.bytes().await.unwrap();
    assert!(body.is_empty(), "{body:?}");
    assert_signed(&app, &headers, &body).await;

    let id = upload(&app, &token, &Value::Null, &Value::Null).await;
    let delete = app.delete(&token, &format!("/documents/{id}/document"));
    let delete = delete.send().await.unwrap();
    assert_eq!(delete.status(), 409);
    assert!(delete.headers().get("content-type").is_none());
    let headers = delete.headers().clone();
    let body = delete.bytes().await.unwrap();
    assert!(body.is_empty(), "{body:?}");
    assert_signed(&app, &headers, &body).await;
    assert!(
        assert_signed_fails(&app, &headers, b"x").await,
        "a body that was not sent does not verify"
    );
    // Unknown documents are still 404 problem+json.
    let unknown = app.delete(&token, "/documents/AAAAAAAAAAAAAAAAAAAAAA/document");
    let unknown = unknown.send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
}

async fn assert_signed_fails(app: &TestApp, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    let (signature, date) = (header(SIGNATURE_HEADER), header(SIGNATURE_DATE_HEADER));
    content_signature::verify(&keys(app).await, &signature, &date, &sha256_hex(body)).is_err()
}
