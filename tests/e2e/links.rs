//! `POST /documents/{docId}/links`: sealed links `{gateway}/l/{sealed}`, one per audience
//! record or per `viewers` entry, opened here with the instance's seal keys.

use reqwest::multipart::Form;
use serde_json::{Value, json};
use shared::sealed::{SEAL_KEYS_FILE, SealKeys, SealedLink};

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::updates::{id_of, literal_challenge};

on_both_databases!(
    records_audience_gets_one_link_per_record_in_order,
    viewers_entries_must_be_exactly_the_viewer_token,
    many_entries_match_many_records,
    octet_stream_and_tokenless_audiences,
    bodies_are_bounded_and_must_be_json,
    tokens_too_long_to_seal_are_refused,
    documents_not_yours_missing_or_expired,
    a_new_placeholder_is_sealed_after_an_update,
);

fn three_records() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone,first_name}", "data": {"records": [
        {"telephone": "4154445511", "first_name": "Harry", "email_address": "h@ipo.st"},
        {"telephone": "+1 555 0100", "first_name": "Zoë", "email_address": "z@ipo.st"},
        {"telephone": "4154445513", "first_name": "Ann", "email_address": "a@ipo.st"}
    ]}})
}

fn octet_stream(viewer_token: Value) -> Value {
    json!({"type": "octet-stream", "viewerToken": viewer_token, "data": "aGVsbG8="})
}

/// Uploads a document with `audience` (and, for `octet-stream`, the challenge it needs).
async fn upload_with(app: &TestApp, token: &str, audience: Option<Value>) -> Value {
    let mut form = document_form("links.pdf", b"sealed".to_vec());
    if let Some(audience) = audience {
        if audience["type"] == "octet-stream" {
            form = form.text("challenge", literal_challenge().to_string());
        }
        form = form.text("audience", audience.to_string());
    }
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn post_links(
    app: &TestApp,
    token: &str,
    id: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app
        .client
        .post(app.url(&format!("/documents/{id}/links")))
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

/// The links of a 200 answer.
async fn links_of(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    body["links"].as_array().unwrap().clone()
}

/// The 422 problem's `field`.
async fn invalid_field(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    problem["field"].as_str().unwrap().to_owned()
}

/// `(gateway root, placeholder id)` from a record's placeholder href
/// (`{gateway}/{placeholderId}{viewerToken}`).
fn placeholder_of(record: &Value) -> (String, String) {
    let href = record["links"]["placeholder"]["href"].as_str().unwrap();
    let href = &href[..href.find('{').unwrap_or(href.len())];
    let (root, id) = href.rsplit_once('/').unwrap();
    (root.to_owned(), id.to_owned())
}

/// Opens a link's seal with the instance's keys, checking it is `{gateway}/l/{sealed}`.
fn open(app: &TestApp, record: &Value, link: &Value) -> SealedLink {
    let keys = SealKeys::load_or_create(&app.data_dir().join(SEAL_KEYS_FILE)).unwrap();
    let (root, _) = placeholder_of(record);
    let href = link["href"].as_str().unwrap();
    let sealed = href
        .strip_prefix(&format!("{root}/l/"))
        .unwrap_or_else(|| panic!("{href} is not under {root}/l/"));
    keys.open(sealed).expect("the seal opens")
}

fn token(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

async fn records_audience_gets_one_link_per_record_in_order(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let record = upload_with(&app, &auth, Some(three_records())).await;
    let id = id_of(&record);
    let (_, placeholder) = placeholder_of(&record);
    let links = links_of(post_links(&app, &auth, &id, None).await).await;
    assert_eq!(links.len(), 3);
    let expected = [
        token(&[("telephone", "4154445511"), ("first_name", "Harry")]),
        token(&[("telephone", "+1 555 0100"), ("first_name", "Zoë")]),
        token(&[("telephone", "4154445513"), ("first_name", "Ann")]),
    ];
    for (index, (link, fields)) in links.iter().zip(expected).enumerate() {
        assert_eq!(link["record"], index);
        assert_eq!(link.as_object().unwrap().len(), 2, "{link}");
        let href = link["href"].as_str().unwrap();
        for needle in ["4154445511", "Harry", "first_name", &placeholder] {
            assert!(!href.contains(needle), "{needle} stands in {href}");
        }
        let sealed = open(&app, &record, link);
        assert_eq!(sealed.placeholder, placeholder);
        assert_eq!(
            sealed.viewer_token, fields,
            "template order, not name order"
        );
    }
    // An empty JSON body and `null` mean the same as no body.
    for body in [Some(Value::Null), None] {
        let again = links_of(post_links(&app, &auth, &id, body).await).await;
        assert_eq!(again.len(), 3);
        assert_ne!(again[0]["href"], links[0]["href"], "fresh nonce each time");
        assert_eq!(
            open(&app, &record, &again[1]).viewer_token,
            open(&app, &record, &links[1]).viewer_token
        );
    }
    let response = app
        .client
        .post(app.url(&format!("/documents/{id}/links")))
        .bearer_auth(&auth)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(links_of(response).await.len(), 3);
}

async fn viewers_entries_must_be_exactly_the_viewer_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let record = upload_with(&app, &auth, Some(three_records())).await;
    let id = id_of(&record);
    let body = json!({"viewers": [
        {"first_name": "Ann", "telephone": "4154445513"},
        {"telephone": "+1 555 0100", "first_name": "Zoë"}
    ]});
    let links = links_of(post_links(&app, &auth, &id, Some(body)).await).await;
    assert_eq!(links.len(), 2);
    assert_eq!(
        (links[0]["record"].clone(), links[1]["record"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        open(&app, &record, &links[1]).viewer_token,
        token(&[("telephone", "+1 555 0100"), ("first_name", "Zoë")])
    );
    assert!(
        links_of(post_links(&app, &auth, &id, Some(json!({"viewers": []}))).await)
            .await
            .is_empty()
    );
    let harry = json!({"telephone": "4154445511", "first_name": "Harry"});
    for (body, field) in [
        (
            json!({"viewers": [harry, {"telephone": "4154445511"}]}),
            "viewers[1].first_name",
        ),
        (
            json!({"viewers": [{"telephone": "4154445511", "first_name": "Harry", "email_address": "h@ipo.st"}]}),
            "viewers[0].email_address",
        ),
        (
            json!({"viewers": [{"telephone": 4154445511_u64, "first_name": "Harry"}]}),
            "viewers[0].telephone",
        ),
        (
            json!({"viewers": [{"telephone": "4154445511", "first_name": "Ann"}]}),
            "viewers[0]",
        ),
        (json!({"viewers": [harry, "Harry"]}), "viewers[1]"),
        (json!({"viewers": {"0": harry}}), "viewers"),
        (json!({"viewers": [harry], "viewer": []}), "viewer"),
        (json!({}), "viewers"),
        (json!([harry]), "body"),
    ] {
        let response = post_links(&app, &auth, &id, Some(body.clone())).await;
        assert_eq!(invalid_field(response).await, field, "{body}");
    }
    let response = post_links(
        &app,
        &auth,
        &id,
        Some(json!({"viewers": [{"telephone": "4154445599", "first_name": "Eve"}]})),
    )
    .await;
    let problem: Value = response.json().await.unwrap();
    assert!(
        !problem.to_string().contains("4154445599"),
        "no value in the problem: {problem}"
    );
}

async fn many_entries_match_many_records(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let records: Vec<Value> = (0..5000)
        .map(|i| json!({"code": format!("{}", i % 2500), "name": format!("viewer {i}")}))
        .collect();
    let audience =
        json!({"type": "records", "viewerToken": "{?code}", "data": {"records": records}});
    let record = upload_with(&app, &auth, Some(audience)).await;
    let entries: Vec<Value> = (0..2500)
        .rev()
        .map(|i| json!({"code": format!("{i}")}))
        .collect();
    let started = std::time::Instant::now();
    let response = post_links(
        &app,
        &auth,
        &id_of(&record),
        Some(json!({"viewers": entries})),
    )
    .await;
    let links = links_of(response).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let indexes: Vec<u64> = links
        .iter()
        .map(|l| l["record"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..2500).rev().collect();
    assert_eq!(indexes, expected, "the first record with the values");
    assert_eq!(
        open(&app, &record, &links[0]).viewer_token,
        token(&[("code", "2499")])
    );
}

async fn octet_stream_and_tokenless_audiences(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let tokenless = json!({"type": "records", "viewerToken": null, "data": {"records": [{"a": "1"}, {"a": "2"}]}});
    for audience in [
        None,
        Some(tokenless),
        Some(octet_stream(json!("{?email_address,code}"))),
    ] {
        let record = upload_with(&app, &auth, audience.clone()).await;
        let links = links_of(post_links(&app, &auth, &id_of(&record), None).await).await;
        assert_eq!(links.len(), 1, "{audience:?}");
        assert_eq!(
            links[0].as_object().unwrap().len(),
            1,
            "no record: {}",
            links[0]
        );
        let sealed = open(&app, &record, &links[0]);
        assert_eq!(
            (sealed.placeholder, sealed.viewer_token),
            (placeholder_of(&record).1, vec![])
        );
        if audience
            .as_ref()
            .is_some_and(|a| a["type"] == "octet-stream")
        {
            continue;
        }
        let two = json!({"viewers": [{}, {}]});
        assert_eq!(
            links_of(post_links(&app, &auth, &id_of(&record), Some(two)).await)
                .await
                .len(),
            2
        );
        let named = json!({"viewers": [{"a": "1"}]});
        let response = post_links(&app, &auth, &id_of(&record), Some(named)).await;
        assert_eq!(
            invalid_field(response).await,
            "viewers[0].a",
            "{audience:?}"
        );
    }
    // octet-stream: any fields, in the template's order, then by name.
    let record = upload_with(
        &app,
        &auth,
        Some(octet_stream(json!("{?email_address,code}"))),
    )
    .await;
    let body = json!({"viewers": [{"zeta": "z", "code": "42", "alpha": "a", "email_address": "h@ipo.st"}]});
    let links = links_of(post_links(&app, &auth, &id_of(&record), Some(body)).await).await;
    assert_eq!(
        open(&app, &record, &links[0]).viewer_token,
        token(&[
            ("email_address", "h@ipo.st"),
            ("code", "42"),
            ("alpha", "a"),
            ("zeta", "z")
        ])
    );
    for (entry, field) in [
        (json!({"code": 42}), "viewers[0].code"),
        (json!({"a b": "x"}), "viewers[0][\"a b\"]"),
        (json!({"": "x"}), "viewers[0][\"\"]"),
    ] {
        let response = post_links(
            &app,
            &auth,
            &id_of(&record),
            Some(json!({"viewers": [entry]})),
        )
        .await;
        assert_eq!(invalid_field(response).await, field);
    }
    // A viewerToken that is no template: by name.
    let record = upload_with(&app, &auth, Some(octet_stream(json!("anything at all")))).await;
    let body = json!({"viewers": [{"b": "2", "a": "1"}]});
    let links = links_of(post_links(&app, &auth, &id_of(&record), Some(body)).await).await;
    assert_eq!(
        open(&app, &record, &links[0]).viewer_token,
        token(&[("a", "1"), ("b", "2")])
    );
}

async fn bodies_are_bounded_and_must_be_json(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let id = id_of(&upload_with(&app, &auth, None).await);
    let many = json!({"viewers": vec![json!({}); 10_001]});
    assert_eq!(
        invalid_field(post_links(&app, &auth, &id, Some(many)).await).await,
        "viewers"
    );
    let most = json!({"viewers": vec![json!({}); 10_000]});
    assert_eq!(
        links_of(post_links(&app, &auth, &id, Some(most)).await)
            .await
            .len(),
        10_000
    );
    let huge = json!({"viewers": [], "padding": "x".repeat(2 << 20)});
    let response = post_links(&app, &auth, &id, Some(huge)).await;
    assert_eq!(response.status(), 413);
    let url = app.url(&format!("/documents/{id}/links"));
    for (content_type, body, status) in [
        ("text/plain", "{\"viewers\": []}", 415),
        ("application/json", "{\"viewers\": [", 422),
        ("application/json", "[]", 422),
    ] {
        let response = app
            .client
            .post(&url)
            .bearer_auth(&auth)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{content_type} {body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

async fn tokens_too_long_to_seal_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let long = "9".repeat(4000);
    let audience = json!({"type": "records", "viewerToken": "{?telephone}", "data": {"records": [
        {"telephone": "1"}, {"telephone": long}
    ]}});
    let record = upload_with(&app, &auth, Some(audience)).await;
    let response = post_links(&app, &auth, &id_of(&record), None).await;
    assert_eq!(invalid_field(response).await, "audience.data.records[1]");
    let one = json!({"viewers": [{"telephone": "1"}]});
    assert_eq!(
        links_of(post_links(&app, &auth, &id_of(&record), Some(one)).await)
            .await
            .len(),
        1
    );
    let record = upload_with(&app, &auth, Some(octet_stream(Value::Null))).await;
    let body = json!({"viewers": [{"a": "1"}, {"a": long}]});
    let response = post_links(&app, &auth, &id_of(&record), Some(body)).await;
    assert_eq!(invalid_field(response).await, "viewers[1]");
}

async fn documents_not_yours_missing_or_expired(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.expiry_sweep_secs", "3600")]).await;
    let auth = app.login().await;
    let id = id_of(&upload_with(&app, &auth, Some(three_records())).await);
    let intruder = app.login_with(&app.add_producer("intruder").await).await;
    assert_eq!(post_links(&app, &intruder, &id, None).await.status(), 404);
    let theirs = json!({"viewers": [{"telephone": "4154445511", "first_name": "Harry"}]});
    assert_eq!(
        post_links(&app, &intruder, &id, Some(theirs))
            .await
            .status(),
        404
    );
    for unknown in ["AAAAAAAAAAAAAAAAAAAAAA", "not-an-id"] {
        assert_eq!(post_links(&app, &auth, unknown, None).await.status(), 404);
    }
    let url = app.url(&format!("/documents/{id}/links"));
    let response = app.client.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let response = app
            .client
            .request(method.clone(), &url)
            .bearer_auth(&auth)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
    }
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let form = document_form("brief.pdf", b"short-lived".to_vec()).text("expiration", soon);
    let expiring = id_of(&app.upload_form(&auth, form).await.json().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.get(&auth, &format!("/documents/{expiring}"))
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    assert_eq!(post_links(&app, &auth, &expiring, None).await.status(), 410);
}

async fn a_new_placeholder_is_sealed_after_an_update(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = app.login().await;
    let record = upload_with(&app, &auth, Some(three_records())).await;
    let id = id_of(&record);
    let before = links_of(post_links(&app, &auth, &id, None).await).await;
    let response = app
        .client
        .post(app.url(&format!("/documents/{id}")))
        .bearer_auth(&auth)
        .multipart(Form::new().text("metadata", "{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    let after = links_of(post_links(&app, &auth, &id, None).await).await;
    assert_eq!(
        open(&app, &updated, &after[0]).placeholder,
        placeholder_of(&updated).1
    );
    assert_ne!(
        open(&app, &updated, &after[0]).placeholder,
        open(&app, &record, &before[0]).placeholder
    );
}
