//! Payload encryption per API key (issue 17, item 2; DESIGN, "Payload encryption"): sealed
//! JSON bodies and multipart JSON parts opened before validation, sealed JSON and
//! problem+json answers, binary content left alone, and every refusal (plain, tampered,
//! replayed on another path) a plain 400 that changes nothing.

use api_server::payload::PayloadKey;
use api_server::routes::{Access, ROUTES};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use shared::keys::SigningKey;

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    every_json_route_round_trips_sealed,
    every_route_of_the_table_answers_sealed_or_binary,
    sealed_audience_and_metadata_parts_work_at_the_gateway,
    refused_envelopes_are_plain_400s_that_change_nothing,
    keys_without_encryption_keep_plain_json,
);

/// An API key created with `"encryption": true`, and its payload key.
struct Sealing {
    key: String,
    payload: PayloadKey,
}

/// Creates an encryption key called `name` holding `scopes` with the login token `token`.
async fn sealing_key(app: &TestApp, token: &str, name: &str, scopes: &[&str]) -> Sealing {
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(token)
        .json(&json!({"name": name, "scopes": scopes, "encryption": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["encryption"], true);
    let key = body["key"].as_str().unwrap().to_owned();
    crate::secrets::record("api key", &key);
    crate::secrets::record("api key", body["bearer"].as_str().unwrap());
    Sealing {
        payload: PayloadKey::derive(&key),
        key,
    }
}

impl Sealing {
    fn seal(&self, method: &str, path: &str, value: &Value) -> String {
        let aad = format!("{method} {path}");
        self.payload
            .seal(&aad, value.to_string().as_bytes())
            .unwrap()
    }

    /// `method path` with this key, its JSON body (if any) sealed for that very request.
    async fn send(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "text/plain")
                .body(self.seal(method, path, body));
        }
        request.send().await.unwrap()
    }

    /// The status and opened JSON of a sealed answer to `method path`.
    async fn open(&self, response: Response, method: &str, path: &str) -> (u16, Value) {
        let status = response.status().as_u16();
        assert_eq!(
            response.headers()["content-type"],
            "text/plain",
            "{method} {path}"
        );
        let text = response.text().await.unwrap();
        assert!(!text.contains('{'), "{text}");
        let aad = format!("{status} {method} {path}");
        let plain = self.payload.open(&aad, text.as_bytes()).expect(&aad);
        (status, serde_json::from_slice(&plain).unwrap())
    }

    /// Sends and opens (asserting `expected`).
    async fn call(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Value {
        let response = self.send(app, method, path, body).await;
        let (status, value) = self.open(response, method, path).await;
        assert_eq!(status, expected, "{method} {path}: {value}");
        value
    }
}

/// A sealed text part (`text/plain`).
fn sealed_part(sealing: &Sealing, path: &str, value: &Value) -> Part {
    Part::text(sealing.seal("POST", path, value))
        .mime_str("text/plain")
        .unwrap()
}

/// The audience of these tests; its values are recorded for the secret grep.
fn audience() -> Value {
    for value in ["4154445577", "Payloadina"] {
        crate::secrets::record("audience value", value);
    }
    json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": [
        {"telephone": "4154445577", "first_name": "Payloadina"}
    ]}})
}

/// Uploads a JSON document (media type `application/json`) with sealed audience and metadata.
async fn upload_sealed(app: &TestApp, sealing: &Sealing) -> Value {
    let document = Part::bytes(br#"{"doc": "plain"}"#.to_vec())
        .file_name("doc.json")
        .mime_str("application/json")
        .unwrap();
    let form = Form::new()
        .part("audience", sealed_part(sealing, "/documents", &audience()))
        .part(
            "metadata",
            sealed_part(sealing, "/documents", &json!({"ref": "A-1"})),
        )
        .part("document", document);
    let response = (app.client.post(app.url("/documents")))
        .header("x-api-key", &sealing.key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, record) = sealing.open(response, "POST", "/documents").await;
    assert_eq!(status, 201, "{record}");
    record
}

async fn every_json_route_round_trips_sealed(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let all = ["read", "write", "deliver", "logs", "admin"];
    let s = sealing_key(&app, &token, "sealed", &all).await;

    let child = json!({"name": "child", "scopes": ["read"]});
    let created = s.call(&app, "POST", "/keys", Some(&child), 201).await;
    crate::secrets::record("api key", created["key"].as_str().unwrap());
    crate::secrets::record("api key", created["bearer"].as_str().unwrap());
    let keys = s.call(&app, "GET", "/keys", None, 200).await;
    assert_eq!(keys["keys"][0]["encryption"], true, "{keys}");
    assert_eq!(keys["keys"][1]["name"], "child");
    assert_eq!(
        s.send(&app, "DELETE", "/keys/child", None).await.status(),
        204
    );

    let list = json!(["127.0.0.0/8", "::1/128"]);
    let stored = s
        .call(&app, "PUT", "/producer/allowlist", Some(&list), 200)
        .await;
    assert_eq!(stored, list);
    assert_eq!(
        s.call(&app, "GET", "/producer/allowlist", None, 200).await,
        list
    );
    let none = json!([]);
    s.call(&app, "PUT", "/producer/allowlist", Some(&none), 200)
        .await;

    let public = STANDARD.encode(SigningKey::generate().unwrap().public_key());
    let added = json!({"publicKey": public});
    let key = s
        .call(&app, "POST", "/producer/keys", Some(&added), 201)
        .await;
    assert_eq!(key["publicKey"], public);
    let listed = s.call(&app, "GET", "/producer/keys", None, 200).await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    let removed = format!("/producer/keys/{}", key["keyId"].as_str().unwrap());
    assert_eq!(s.send(&app, "DELETE", &removed, None).await.status(), 204);

    let record = upload_sealed(&app, &s).await;
    let id = record["id"].as_str().unwrap();
    let path = format!("/documents/{id}");
    assert_eq!(s.call(&app, "GET", &path, None, 200).await["id"], id);
    let browse = s.call(&app, "GET", "/documents", None, 200).await;
    assert!(browse.to_string().contains(id), "{browse}");
    let audience_path = format!("{path}/audience");
    let stored = s.call(&app, "GET", &audience_path, None, 200).await;
    assert_eq!(stored["data"]["records"][0]["first_name"], "Payloadina");
    let metadata_path = format!("{path}/metadata");
    let metadata = json!({"ref": "B-2"});
    let written = s.send(&app, "PUT", &metadata_path, Some(&metadata)).await;
    assert_eq!(written.status(), 204);
    assert_eq!(
        s.call(&app, "GET", &metadata_path, None, 200).await,
        metadata
    );
    let links_path = format!("{path}/links");
    let links = s
        .call(&app, "POST", &links_path, Some(&Value::Null), 200)
        .await;
    assert_eq!(links["links"].as_array().unwrap().len(), 1, "{links}");

    // Document content stays binary, even when it is JSON.
    let content = s.send(&app, "GET", &format!("{path}/document"), None).await;
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "application/json");
    assert_eq!(
        content.bytes().await.unwrap().as_ref(),
        br#"{"doc": "plain"}"#
    );
    // Problems are sealed too: 404, and a scope the key lacks (403).
    let missing = s.call(&app, "GET", "/documents/unknown", None, 404).await;
    assert_eq!(missing["status"], 404);
    let reader = sealing_key(&app, &token, "reader", &["read"]).await;
    let refused = reader.call(&app, "GET", "/keys", None, 403).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("admin"),
        "{refused}"
    );
    // A credential that could not be established: plain 401.
    let response = (app.client.get(app.url("/keys")))
        .header("x-api-key", format!("{}x", s.key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

/// Every route of the API's table, answered with an encryption key: a sealed answer that
/// opens under `{status} {METHOD} {path}`, no body, or (content, logs) binary; never plain
/// JSON. Public routes do not authenticate the key: their answers are plain.
async fn every_route_of_the_table_answers_sealed_or_binary(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let all = ["read", "write", "deliver", "logs", "admin"];
    let s = sealing_key(&app, &token, "walker", &all).await;
    let record = upload_sealed(&app, &s).await;
    let id = record["id"].as_str().unwrap();
    for route in ROUTES {
        let path = crate::credentials::scopes::path_of(route, id);
        let body = matches!(route.method, "POST" | "PUT").then(|| json!({}));
        let response = s.send(&app, route.method, &path, body.as_ref()).await;
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned());
        let what = format!("{} {path}: {status} {media:?}", route.method);
        match (route.access, media.as_deref()) {
            (Access::Public, _) | (_, None) => {}
            (_, Some("application/zip" | "application/json"))
                if route.method == "GET"
                    && (path.starts_with("/logs") || path.ends_with("/document")) => {}
            (_, Some("text/plain")) => {
                s.open(response, route.method, &path).await;
            }
            _ => panic!("{what}: neither sealed nor binary"),
        }
    }
}

async fn sealed_audience_and_metadata_parts_work_at_the_gateway(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let s = sealing_key(&app, &token, "uploader", &["read", "write"]).await;
    let record = upload_sealed(&app, &s).await;
    let id = record["id"].as_str().unwrap();
    let metadata = s
        .call(&app, "GET", &format!("/documents/{id}/metadata"), None, 200)
        .await;
    assert_eq!(metadata, json!({"ref": "A-1"}));
    // The audience was opened before validation: the gateway selects its record.
    let placeholder = crate::gateway::placeholder_id(&record);
    let client = crate::gateway::no_redirects();
    let base = format!("{}/{placeholder}", app.gateway);
    let response = (client.get(format!("{base}?telephone=4154445577&first_name=Payloadina")))
        .send()
        .await
        .unwrap();
    let content = crate::gateway::fetch_handle(response).await;
    assert_eq!(content, br#"{"doc": "plain"}"#);
    let stranger = client
        .get(format!("{base}?telephone=1&first_name=X"))
        .send();
    assert_eq!(stranger.await.unwrap().status(), 403);
}

/// A plain problem+json 400 naming `field`, whose detail contains `needle`.
async fn plain_400(response: Response, field: &str, needle: &str) {
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], field, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains(needle),
        "{problem}"
    );
}

async fn refused_envelopes_are_plain_400s_that_change_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let s = sealing_key(&app, &token, "strict", &["read", "write", "admin"]).await;
    // A plain JSON body: 400 saying encryption is required; no key made.
    let plain = (app.client.post(app.url("/keys")))
        .header("x-api-key", &s.key)
        .json(&json!({"name": "plain", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    plain_400(plain, "body", "requires payload encryption").await;
    let keys = s.call(&app, "GET", "/keys", None, 200).await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "{keys}");
    // A tampered ciphertext: 400, the allowlist unchanged.
    let list = json!(["192.0.2.0/24"]);
    let mut bytes = STANDARD
        .decode(s.seal("PUT", "/producer/allowlist", &list))
        .unwrap();
    bytes[20] ^= 1;
    let tampered = (app.client.put(app.url("/producer/allowlist")))
        .header("x-api-key", &s.key)
        .header("content-type", "text/plain")
        .body(STANDARD.encode(bytes))
        .send()
        .await
        .unwrap();
    plain_400(tampered, "allowlist", "does not decrypt").await;
    assert_eq!(
        s.call(&app, "GET", "/producer/allowlist", None, 200).await,
        json!([])
    );
    // A ciphertext replayed on another path: the associated data refuses it.
    let first = upload_sealed(&app, &s).await;
    let second = upload_sealed(&app, &s).await;
    let [first, second] = [&first, &second].map(|r| r["id"].as_str().unwrap().to_owned());
    let sealed = s.seal(
        "PUT",
        &format!("/documents/{first}/metadata"),
        &json!({"x": 1}),
    );
    let replayed = (app
        .client
        .put(app.url(&format!("/documents/{second}/metadata"))))
    .header("x-api-key", &s.key)
    .header("content-type", "text/plain")
    .body(sealed)
    .send()
    .await
    .unwrap();
    plain_400(replayed, "metadata", "does not decrypt").await;
    let metadata = format!("/documents/{second}/metadata");
    assert_eq!(
        s.call(&app, "GET", &metadata, None, 200).await,
        json!({"ref": "A-1"})
    );
    // A multipart part sealed for another path, and a plain part: no document is made.
    let before = s.call(&app, "GET", "/documents", None, 200).await;
    for (part, field, needle) in [
        (
            sealed_part(&s, "/documents/x", &audience()),
            "audience",
            "does not decrypt",
        ),
        (
            Part::text(audience().to_string()),
            "audience",
            "requires payload encryption",
        ),
    ] {
        let form = Form::new()
            .part("audience", part)
            .part("document", Part::bytes(b"x".to_vec()).file_name("x.pdf"));
        let response = (app.client.post(app.url("/documents")))
            .header("x-api-key", &s.key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        plain_400(response, field, needle).await;
    }
    assert_eq!(s.call(&app, "GET", "/documents", None, 200).await, before);
}

async fn keys_without_encryption_keep_plain_json(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let response = (app.client.post(app.url("/keys")))
        .bearer_auth(&token)
        .json(&json!({"name": "clear", "scopes": ["admin"], "encryption": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let key = body["key"].as_str().unwrap();
    crate::secrets::record("api key", key);
    crate::secrets::record("api key", body["bearer"].as_str().unwrap());
    let response = (app.client.get(app.url("/keys")))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let keys: Value = response.json().await.unwrap();
    assert_eq!(keys["keys"][0]["encryption"], false);
}
