//! Updates: `POST /documents/{docId}`, `PUT …/document`, `PUT`/`DELETE …/{part}`, the spec's
//! conflict footnotes (instance modes and expiration: `modes_and_expiry`).

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{Db, TestApp, document_form, on_both_databases, sha1_hex};

on_both_databases!(
    post_updates_only_the_given_parts_with_a_new_placeholder,
    post_with_content_replaces_it_and_destroys_the_old,
    put_document_replaces_in_place_and_keeps_the_placeholder,
    put_parts_answer_204_with_location,
    put_on_the_record_is_405,
    audience_type_and_viewer_token_are_fixed_by_put,
    challenge_sources_may_not_turn_into_fields_by_put,
    delete_of_parts_and_content,
    put_part_bodies_are_checked,
);

pub fn records_audience() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone}", "data": {"records": [
        {"telephone": "4154445511", "email_address": "h@ipo.st", "pin": "alice:s3cret"},
        {"telephone": "4154445512", "email_address": "j@ipo.st", "pin": "bob:hunter2"}
    ]}})
}

pub fn field_challenge() -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Reports", "scheme": "basic", "access": {"type": "field", "value": "telephone"}}})
}

pub fn literal_challenge() -> Value {
    json!({"type": "HTTP-Auth", "data": {"realm": "Reports", "scheme": "basic", "access": {"type": "literal", "value": "opensesame"}}})
}

/// Uploads a document with a records audience, a field challenge and metadata.
pub async fn upload_full(app: &TestApp, token: &str) -> Value {
    let form = document_form("full.pdf", b"v1".to_vec())
        .text("audience", records_audience().to_string())
        .text("challenge", field_challenge().to_string())
        .text("metadata", json!({"v": 1}).to_string());
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

pub fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn record(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app
        .get(token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) async fn put_json(
    app: &TestApp,
    token: &str,
    path: &str,
    value: &Value,
) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(value)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn post_update(
    app: &TestApp,
    token: &str,
    id: &str,
    form: Form,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/documents/{id}")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn post_updates_only_the_given_parts_with_a_new_placeholder(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let created = upload_full(&app, &token).await;
    let id = id_of(&created);
    let response = post_update(
        &app,
        &token,
        &id,
        Form::new().text("metadata", json!({"v": 2}).to_string()),
    )
    .await;
    assert_eq!(response.status(), 200);
    let last_modified =
        httpdate::parse_http_date(response.headers()["last-modified"].to_str().unwrap()).unwrap();
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["id"], created["id"]);
    assert_eq!(updated["name"], created["name"]);
    assert_eq!(updated["hash"], created["hash"]);
    assert_ne!(
        updated["links"]["placeholder"], created["links"]["placeholder"],
        "a new placeholder every time"
    );
    assert!(
        last_modified
            > httpdate::parse_http_date(&httpdate::fmt_http_date(
                std::time::SystemTime::now() - Duration::from_secs(60)
            ))
            .unwrap()
    );
    let metadata: Value = app
        .get_json(&token, &format!("/documents/{id}/metadata"))
        .await;
    assert_eq!(metadata, json!({"v": 2}));
    let audience: Value = app
        .get_json(&token, &format!("/documents/{id}/audience"))
        .await;
    assert_eq!(
        audience,
        records_audience(),
        "parts not given are unchanged"
    );
    let again: Value = post_update(&app, &token, &id, Form::new())
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        again["links"]["placeholder"], updated["links"]["placeholder"],
        "even with no part at all"
    );
    let renamed: Value = post_update(&app, &token, &id, Form::new().text("name", "renamed.pdf"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "renamed.pdf");
}

async fn post_with_content_replaces_it_and_destroys_the_old(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let created = upload_full(&app, &token).await;
    let id = id_of(&created);
    let old_files = app.object_files();
    let form = Form::new().part(
        "document",
        Part::bytes(b"version two".to_vec())
            .file_name("v2.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let response = post_update(&app, &token, &id, form).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(
        updated["hash"],
        json!({"algorithm": "SHA-1", "value": sha1_hex(b"version two")})
    );
    assert_eq!(updated["mediaType"], "text/plain");
    assert_eq!(updated["size"], 11);
    assert_eq!(app.download(&token, &id).await.unwrap(), b"version two");
    let files = app.object_files();
    assert_eq!(files.len(), 1);
    assert!(
        !old_files.contains(&files[0]),
        "the old object is destroyed"
    );
    let response = post_update(
        &app,
        &token,
        &id,
        document_form("x", b"x".to_vec()).text("expiration", "2001-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        app.download(&token, &id).await.unwrap(),
        b"version two",
        "a failed update changes nothing"
    );
    assert_eq!(app.object_files(), files, "and leaves no content behind");
}

async fn put_document_replaces_in_place_and_keeps_the_placeholder(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let created = upload_full(&app, &token).await;
    let id = id_of(&created);
    let response = app
        .client
        .put(app.url(&format!("/documents/{id}/document")))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["location"],
        app.url(&format!("/documents/{id}/document"))
    );
    let after = record(&app, &token, &id).await;
    assert_eq!(
        after["links"]["placeholder"], created["links"]["placeholder"],
        "PUT never changes the placeholder"
    );
    assert_eq!(after["mediaType"], "text/csv");
    assert_eq!(
        after["hash"]["algorithm"], created["hash"]["algorithm"],
        "hash algorithm stable"
    );
    assert_eq!(after["hash"]["value"], sha1_hex(b"a,b\n1,2\n"));
    assert_eq!(app.download(&token, &id).await.unwrap(), b"a,b\n1,2\n");
    assert_eq!(app.object_files().len(), 1, "the old content is destroyed");
}

async fn put_parts_answer_204_with_location(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let placeholder = record(&app, &token, &id).await["links"]["placeholder"].clone();
    let values = [
        ("metadata", json!({"anything": ["goes", 1]})),
        (
            "landingpage",
            json!({"type": "url", "href": "https://example.com/welcome{?email_address}"}),
        ),
        (
            "fulfillment",
            json!({"type": "http", "href": "https://hooks.example/deliver", "body": "to={email_address}&link={+link}"}),
        ),
        (
            "challenge",
            json!({"type": "HTTP-Auth", "data": {"realm": "R", "scheme": "digest", "access": {"type": "field", "value": "pin"}}}),
        ),
        ("audience", records_audience()),
    ];
    for (part, value) in values {
        let response = put_json(&app, &token, &format!("/documents/{id}/{part}"), &value).await;
        assert_eq!(
            response.status(),
            204,
            "{part}: {}",
            response.text().await.unwrap()
        );
        let response = put_json(&app, &token, &format!("/documents/{id}/{part}"), &value).await;
        assert_eq!(
            response.headers()["location"],
            app.url(&format!("/documents/{id}/{part}"))
        );
        let back: Value = app
            .get_json(&token, &format!("/documents/{id}/{part}"))
            .await;
        assert_eq!(back, value, "{part}");
    }
    assert_eq!(
        record(&app, &token, &id).await["links"]["placeholder"],
        placeholder
    );
}

async fn put_on_the_record_is_405(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let response = put_json(&app, &token, &format!("/documents/{id}"), &json!({})).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
    let response = app
        .client
        .patch(app.url("/documents"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
}

async fn audience_type_and_viewer_token_are_fixed_by_put(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let form =
        document_form("a.pdf", b"a".to_vec()).text("audience", records_audience().to_string());
    let id = id_of(&app.upload_form(&token, form).await.json().await.unwrap());
    let path = format!("/documents/{id}/audience");
    let octet = json!({"type": "octet-stream", "viewerToken": "{?telephone}", "data": "aGVsbG8="});
    let mut other_token = records_audience();
    other_token["viewerToken"] = json!("{?email_address}");
    for (case, value) in [("type", octet), ("viewerToken", other_token)] {
        let response = put_json(&app, &token, &path, &value).await;
        assert_eq!(response.status(), 409, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let stored: Value = app.get_json(&token, &path).await;
        assert_eq!(stored, records_audience(), "{case}: stored value unchanged");
    }
    let mut no_token = records_audience();
    no_token["viewerToken"] = Value::Null;
    assert_eq!(
        put_json(&app, &token, &path, &no_token).await.status(),
        204,
        "viewerToken may be set to null"
    );
}

async fn challenge_sources_may_not_turn_into_fields_by_put(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let form = document_form("a.pdf", b"a".to_vec())
        .text("audience", records_audience().to_string())
        .text("challenge", literal_challenge().to_string());
    let id = id_of(&app.upload_form(&token, form).await.json().await.unwrap());
    let path = format!("/documents/{id}/challenge");
    assert_eq!(
        put_json(&app, &token, &path, &field_challenge())
            .await
            .status(),
        409,
        "literal → field"
    );
    let stored: Value = app.get_json(&token, &path).await;
    assert_eq!(stored, literal_challenge());
    let response = post_update(
        &app,
        &token,
        &id,
        Form::new().text("challenge", field_challenge().to_string()),
    )
    .await;
    assert_eq!(response.status(), 200, "POST may change it");
    assert_eq!(
        put_json(&app, &token, &path, &literal_challenge())
            .await
            .status(),
        204,
        "field → literal"
    );
    let oauth = |consumer: &str| json!({"type": "OAuth", "data": {"provider": {"href": "https://idp.example"}, "consumer": {"type": consumer, "value": "telephone"}, "access": {"type": "literal", "value": "secret"}}});
    assert_eq!(
        put_json(&app, &token, &path, &oauth("literal"))
            .await
            .status(),
        204
    );
    assert_eq!(
        put_json(&app, &token, &path, &oauth("field"))
            .await
            .status(),
        409,
        "consumer literal → field"
    );
}

async fn delete_of_parts_and_content(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let response = app
        .delete(&token, &format!("/documents/{id}/document"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(app.download(&token, &id).await.unwrap(), b"v1");
    let response = app
        .delete(&token, &format!("/documents/{id}/audience"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        409,
        "the field challenge needs the records audience"
    );
    for part in [
        "challenge",
        "audience",
        "metadata",
        "fulfillment",
        "landingpage",
    ] {
        let response = app
            .delete(&token, &format!("/documents/{id}/{part}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{part}");
        let back: Value = app
            .get_json(&token, &format!("/documents/{id}/{part}"))
            .await;
        assert_eq!(back, Value::Null, "{part}");
    }
}

async fn put_part_bodies_are_checked(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.max_json_part_bytes", "2000")]).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let path = app.url(&format!("/documents/{id}/metadata"));
    let response = app
        .client
        .put(&path)
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let big = json!({"pad": "x".repeat(3000)});
    let response = app
        .client
        .put(&path)
        .bearer_auth(&token)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let response = app
        .client
        .put(&path)
        .bearer_auth(&token)
        .json(&json!([1]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let bad_landing = json!({"type": "url", "href": "http://plain.example/"});
    let response = put_json(
        &app,
        &token,
        &format!("/documents/{id}/landingpage"),
        &bad_landing,
    )
    .await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["field"]
            .as_str()
            .unwrap()
            .starts_with("landingpage"),
        "{problem}"
    );
    let metadata: Value = app
        .get_json(&token, &format!("/documents/{id}/metadata"))
        .await;
    assert_eq!(metadata, json!({"v": 1}), "unchanged");
}
