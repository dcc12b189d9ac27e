//! The first slice of the producer API: create, retrieve, browse, delete.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{Db, TestApp, document_form, on_both_databases, sha1_hex};

on_both_databases!(
    create_answers_the_spec_record,
    record_and_sub_resources_read_back,
    content_streams_back_with_its_media_type,
    browse_lists_the_callers_documents,
    delete_removes_record_and_every_byte,
    other_producers_documents_are_404_everywhere,
    expiration_is_validated,
    malformed_forms_name_the_field,
    oversized_parts_are_413_and_leave_nothing,
    unknown_ids_are_404,
);

fn full_form(content: &[u8]) -> Form {
    Form::new()
        .text("name", "report.pdf")
        .text("expiration", "2030-01-01T00:00:00Z")
        .text("audience", json!({"type": "records", "viewerToken": "{?telephone}", "data": {"records": [{"telephone": "4154445511"}]}}).to_string())
        .text("challenge", "null")
        .text("metadata", json!({"ref": 42}).to_string())
        .part("document", Part::bytes(content.to_vec()).file_name("ignored.bin").mime_str("application/pdf").unwrap())
}

async fn create_answers_the_spec_record(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let content = b"%PDF-1.4 hello".to_vec();
    let response = app.upload_form(&token, full_form(&content)).await;
    assert_eq!(response.status(), 201);
    let last_modified = response.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    httpdate::parse_http_date(&last_modified).unwrap();
    let location = response.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["content-type"], "application/json");
    let record: Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert_eq!(location, app.url(&format!("/documents/{id}")));
    assert_eq!(record["name"], "report.pdf");
    assert_eq!(record["mediaType"], "application/pdf");
    assert_eq!(record["size"], content.len());
    assert_eq!(
        record["hash"],
        json!({"algorithm": "SHA-1", "value": sha1_hex(&content)})
    );
    assert_eq!(record["expiration"], "2030-01-01T00:00:00.000Z");
    let links = &record["links"];
    assert_eq!(links["self"], json!({"href": location, "rel": "self"}));
    for (name, suffix) in [
        ("document", "/document"),
        ("audience", "/audience"),
        ("fulfillment", "/fulfillment"),
        ("challenge", "/challenge"),
        ("landingpage", "/landingpage"),
        ("metadata", "/metadata"),
    ] {
        assert_eq!(
            links[name],
            json!({"href": format!("{location}{suffix}"), "rel": "edit"}),
            "{name}"
        );
    }
    let placeholder = links["placeholder"]["href"].as_str().unwrap();
    assert_eq!(links["placeholder"]["rel"], "alternate");
    let gateway = format!("{}/", app.gateway);
    let rest = placeholder.strip_prefix(&gateway).unwrap();
    let (placeholder_id, template) = rest.split_at(22);
    assert_ne!(placeholder_id, id, "the placeholder is not the docId");
    assert_eq!(template, "{?telephone}");
}

async fn record_and_sub_resources_read_back(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let response = app.upload_form(&token, full_form(b"x")).await;
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app
        .get(&token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("last-modified"));
    assert_eq!(response.json::<Value>().await.unwrap(), created);
    let expected = [
        (
            "audience",
            json!({"type": "records", "viewerToken": "{?telephone}", "data": {"records": [{"telephone": "4154445511"}]}}),
        ),
        ("challenge", Value::Null),
        ("fulfillment", Value::Null),
        ("landingpage", Value::Null),
        ("metadata", json!({"ref": 42})),
    ];
    for (part, value) in expected {
        let response = app
            .get(&token, &format!("/documents/{id}/{part}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{part}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.json::<Value>().await.unwrap(), value, "{part}");
    }
    let response = app
        .get(&token, &format!("/documents/{id}/nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn content_streams_back_with_its_media_type(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let form = Form::new().part(
        "document",
        Part::bytes(b"<svg/>".to_vec())
            .file_name("a.svg")
            .mime_str("image/svg+xml")
            .unwrap(),
    );
    let record: Value = app.upload_form(&token, form).await.json().await.unwrap();
    assert_eq!(record["name"], "a.svg", "the name defaults to the filename");
    let response = app
        .get(
            &token,
            &format!("/documents/{}/document", record["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["content-length"], "6");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&response.bytes().await.unwrap()[..], b"<svg/>");
}

async fn browse_lists_the_callers_documents(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let response = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"msg": "list of retrieved documents", "documents": []})
    );
    let mut ids = Vec::new();
    for n in 0..5 {
        let record = app.upload(&token, &format!("doc-{n}.pdf"), vec![n]).await;
        ids.push((
            record["id"].as_str().unwrap().to_owned(),
            format!("doc-{n}.pdf"),
        ));
    }
    ids.sort();
    let listed: Value = app.get_json(&token, "/documents").await;
    let expected: Vec<Value> = ids
        .iter()
        .map(|(id, name)| json!({ id.as_str(): name }))
        .collect();
    assert_eq!(listed["documents"], json!(expected));
    let page: Value = app
        .get_json(&token, &format!("/documents?limit=2&after={}", ids[1].0))
        .await;
    assert_eq!(page["documents"], json!(expected[2..4]));
    let response = app
        .get(&token, "/documents?after=../x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

async fn delete_removes_record_and_every_byte(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let record = app.upload(&token, "gone.pdf", vec![7; 100_000]).await;
    let id = record["id"].as_str().unwrap();
    assert!(!app.object_files().is_empty());
    let response = app
        .delete(&token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(app.object_files().is_empty(), "{:?}", app.object_files());
    for path in [
        format!("/documents/{id}"),
        format!("/documents/{id}/document"),
        format!("/documents/{id}/metadata"),
    ] {
        assert_eq!(
            app.get(&token, &path).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    assert_eq!(
        app.delete(&token, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn other_producers_documents_are_404_everywhere(db: Db) {
    let app = TestApp::spawn(db).await;
    let owner = app.login().await;
    let record = app.upload(&owner, "mine.pdf", b"mine".to_vec()).await;
    let id = record["id"].as_str().unwrap();
    let intruder = app.login_with(&app.add_producer("intruder").await).await;
    for part in [
        "",
        "/document",
        "/audience",
        "/challenge",
        "/fulfillment",
        "/landingpage",
        "/metadata",
    ] {
        let response = app
            .get(&intruder, &format!("/documents/{id}{part}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "GET {part}");
    }
    assert_eq!(
        app.delete(&intruder, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let listed: Value = app.get_json(&intruder, "/documents").await;
    assert_eq!(listed["documents"], json!([]));
    assert_eq!(
        app.download(&owner, id).await.unwrap(),
        b"mine",
        "untouched"
    );
}

async fn expiration_is_validated(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let record = app.upload(&token, "a.pdf", b"a".to_vec()).await;
    let expiration =
        chrono::DateTime::parse_from_rfc3339(record["expiration"].as_str().unwrap()).unwrap();
    let days = (expiration.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!(
        (364..=365).contains(&days),
        "default is one year ahead, got {days} days"
    );
    let http_date =
        document_form("b.pdf", b"b".to_vec()).text("expiration", "Tue, 01 Jan 2030 00:00:00 GMT");
    assert_eq!(app.upload_form(&token, http_date).await.status(), 201);
    for bad in [
        "2001-01-01T00:00:00Z",
        "Mon, 01 Jan 2001 00:00:00 GMT",
        "next week",
    ] {
        let response = app
            .upload_form(
                &token,
                document_form("c.pdf", b"c".to_vec()).text("expiration", bad),
            )
            .await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["field"],
            "expiration"
        );
    }
    assert_eq!(
        app.object_files().len(),
        2,
        "failed insertions left nothing"
    );
}

async fn malformed_forms_name_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let cases: Vec<(Form, u16, &str)> = vec![
        (Form::new().text("name", "x"), 400, "document"),
        (
            document_form("a.pdf", b"a".to_vec()).text("audience", "[1, 2]"),
            422,
            "audience",
        ),
        (
            document_form("a.pdf", b"a".to_vec()).text("metadata", "{not json"),
            422,
            "metadata",
        ),
        (
            document_form("a.pdf", b"a".to_vec()).text("colour", "blue"),
            400,
            "colour",
        ),
        (
            document_form("a.pdf", b"a".to_vec())
                .text("name", "x")
                .text("name", "y"),
            400,
            "name",
        ),
        (
            document_form("a.pdf", b"a".to_vec()).text("name", "bad\u{7}name"),
            422,
            "name",
        ),
        (
            Form::new().part("document", Part::bytes(b"a".to_vec())),
            400,
            "name",
        ),
    ];
    for (form, status, field) in cases {
        let response = app.upload_form(&token, form).await;
        assert_eq!(response.status(), status, "{field}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field);
        assert_eq!(problem["status"], status);
    }
    let response = app
        .client
        .post(app.url("/documents"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert!(
        app.wait_for_no_objects(5).await.is_empty(),
        "nothing stored by failed insertions"
    );
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"], json!([]));
}

async fn oversized_parts_are_413_and_leave_nothing(db: Db) {
    let app = TestApp::spawn_with(
        db,
        &[
            ("api.max_document_bytes", "100000"),
            ("api.max_json_part_bytes", "1000"),
        ],
    )
    .await;
    let token = app.login().await;
    let response = app
        .upload_form(&token, document_form("big.pdf", vec![1; 100_001]))
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "document");
    let big_json = json!({"pad": "x".repeat(2000)}).to_string();
    let response = app
        .upload_form(
            &token,
            document_form("a.pdf", vec![1; 10]).text("metadata", big_json),
        )
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "metadata");
    assert_eq!(
        app.upload_form(&token, document_form("ok.pdf", vec![1; 100_000]))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.object_files().len(),
        1,
        "only the accepted document remains"
    );
}

async fn unknown_ids_are_404(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    for id in [
        "AAAAAAAAAAAAAAAAAAAAAA",
        "short",
        "..%2F..%2Fetc",
        &"x".repeat(5000),
    ] {
        let response = app
            .get(&token, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let response = app.get(&token, "/no/such/route").send().await.unwrap();
    assert_eq!(response.status(), 404);
}
