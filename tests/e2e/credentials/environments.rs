//! Live and test environments (issue 16, item 7; DESIGN, "Producer credentials and
//! environments"): a document belongs to the environment of the credential that created it, and
//! a credential of the other environment gets 404 for it and never sees it in browse, links,
//! deliveries or logs; a test document's deliveries are captured (shown in the status) and never
//! sent; its landing page says it is a test. Test credentials come from `POST /login` with the
//! part `environment=test`.

use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, on_both_databases};
use crate::delivery::peers::{HttpReceiver, SmtpSink};
use crate::delivery::{
    FAST, assert_link_opens, bearer, deliver, post_deliver, three_records, token_query, upload,
    wait_done,
};
use crate::gateway::{audience, create, harry, no_redirects};
use crate::logs_export::{download, entries, entry, keys};

on_both_databases!(
    documents_are_separated_both_ways,
    deliveries_are_separated_both_ways,
    logs_are_separated_both_ways,
    a_test_http_delivery_is_captured_and_never_sent,
    a_test_email_delivery_is_captured_and_never_sent,
    a_test_documents_landing_page_says_so,
    an_api_keys_environment_is_its_documents,
    deleting_a_test_document_wipes_its_captures,
    a_test_xmlrpc_delivery_is_captured_and_never_sent,
);

/// Logs in as the default producer in `environment`; the token.
async fn login_in(app: &TestApp, environment: &str) -> String {
    let form = Form::new()
        .text("key", app.default_key())
        .text("email", "operator@example.com")
        .text("environment", environment.to_owned());
    let response = (app.client.post(app.url("/login")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in token.split(' ') {
        crate::secrets::record("login token", part);
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["environment"], environment);
    token
}

/// The docIds `GET /documents` lists for `token`.
async fn browse(app: &TestApp, token: &str) -> Vec<String> {
    let listing = app.get_json(token, "/documents").await;
    (listing["documents"].as_array().unwrap().iter())
        .flat_map(|entry| entry.as_object().unwrap().keys().cloned())
        .collect()
}

/// Every document route `token` may not reach for `id`: each answers 404.
async fn assert_unreachable(app: &TestApp, token: &str, id: &str) {
    for path in ["", "/document", "/audience", "/metadata"] {
        let response = app
            .get(token, &format!("/documents/{id}{path}"))
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 404, "GET {path}");
    }
    let links = (app.client.post(app.url(&format!("/documents/{id}/links"))))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(links.status(), 404, "links");
    let put = (app
        .client
        .put(app.url(&format!("/documents/{id}/metadata"))))
    .bearer_auth(token)
    .json(&json!({"changed": true}))
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), 404, "PUT metadata");
    let delete = app.delete(token, &format!("/documents/{id}")).send().await;
    assert_eq!(delete.unwrap().status(), 404, "DELETE");
    let locks = app
        .delete(token, &format!("/documents/{id}/locks"))
        .send()
        .await;
    assert_eq!(locks.unwrap().status(), 404, "DELETE locks");
}

async fn documents_are_separated_both_ways(db: Db) {
    let app = TestApp::spawn(db).await;
    let (live, test) = (login_in(&app, "live").await, login_in(&app, "test").await);
    let live_doc = app.upload(&live, "live.pdf", b"live".to_vec()).await;
    let test_doc = app.upload(&test, "test.pdf", b"test".to_vec()).await;
    let (live_id, test_id) = (
        live_doc["id"].as_str().unwrap(),
        test_doc["id"].as_str().unwrap(),
    );
    assert_eq!(live_doc["environment"], "live");
    assert_eq!(test_doc["environment"], "test");

    assert_eq!(browse(&app, &live).await, [live_id]);
    assert_eq!(browse(&app, &test).await, [test_id]);
    assert_unreachable(&app, &live, test_id).await;
    assert_unreachable(&app, &test, live_id).await;

    // Each still works in its own environment, untouched by the attempts above.
    assert_eq!(app.download(&live, live_id).await.unwrap(), b"live");
    assert_eq!(app.download(&test, test_id).await.unwrap(), b"test");
    let metadata = app
        .get_json(&test, &format!("/documents/{test_id}/metadata"))
        .await;
    assert_eq!(metadata, Value::Null);
    // A login without the part is live.
    let default = app.login().await;
    assert_eq!(browse(&app, &default).await, [live_id]);
}

async fn deliveries_are_separated_both_ways(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let (live, test) = (login_in(&app, "live").await, login_in(&app, "test").await);
    let fulfillment = crate::delivery::http::fulfillment(&receiver);
    let fields = [("campaign", "c"), ("api_token", "t0ken-env")];
    for (mine, other) in [(&live, &test), (&test, &live)] {
        let id = upload(&app, mine, &three_records(), &fulfillment).await;
        let location = deliver(&app, mine, &id, &fields).await;
        wait_done(&app.client, &bearer(mine), &location, 20).await;
        // The other environment can neither deliver the document nor read its delivery.
        let response = post_deliver(&app, other, &id, &fields).await;
        assert_eq!(response.status(), 404);
        let status = (app.client.get(&location)).bearer_auth(other).send().await;
        assert_eq!(status.unwrap().status(), 404);
    }
    // Only the live delivery reached the receiver.
    assert_eq!(receiver.requests().await.len(), 3);
}

/// `token`'s `GET /logs` zip entries, once its vault log (written in batches) names `id`.
async fn export_naming(app: &TestApp, token: &str, id: &str) -> Vec<(String, Vec<u8>)> {
    let (keys, dir) = (keys(app).await, tempfile::tempdir().unwrap());
    let file = dir.path().join("logs.zip");
    for _ in 0..100 {
        download(app, token, "/logs", &keys, &file).await;
        let entries = entries(&file).await;
        if entry(&entries, "vault.log").contains(id) {
            return entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the vault log never named {id}");
}

async fn logs_are_separated_both_ways(db: Db) {
    let app = TestApp::spawn_with(db, &[("vault.log_flush_secs", "1")]).await;
    let (live, test) = (login_in(&app, "live").await, login_in(&app, "test").await);
    let live_doc = create(&app, &live, b"live", &[("audience", audience())]).await;
    let test_doc = create(&app, &test, b"test", &[("audience", audience())]).await;
    // Gateway and vault lines for both: each document viewed once.
    for doc in [&live_doc, &test_doc] {
        let response = no_redirects().get(harry(&app, doc)).send().await.unwrap();
        let handle = response.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(reqwest::get(&handle).await.unwrap().status(), 200);
    }
    for (token, mine, other) in [(&live, &live_doc, &test_doc), (&test, &test_doc, &live_doc)] {
        let entries = export_naming(&app, token, &mine.id).await;
        for log in ["api.log", "gateway.log", "vault.log"] {
            let text = entry(&entries, log);
            assert!(
                text.contains(&mine.id),
                "{log} lacks its own document: {text}"
            );
            assert!(
                !text.contains(&other.id),
                "{log} holds the other environment's: {text}"
            );
        }
        let own = app.get(token, &format!("/logs/{}", mine.id)).send().await;
        assert_eq!(own.unwrap().status(), 200);
        let foreign = app.get(token, &format!("/logs/{}", other.id)).send().await;
        assert_eq!(foreign.unwrap().status(), 404);
    }
}

/// The value of header `name` in a captured request's `[[name, value], …]`.
fn captured_header(captured: &Value, name: &str) -> Option<String> {
    (captured["headers"].as_array().unwrap().iter())
        .find(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str().unwrap().to_owned())
}

/// Checks one captured request of the fulfillment of `crate::delivery::http` (delivered with
/// `campaign` and `api_token`) and returns the sealed link its body holds.
fn assert_captured_request(captured: &Value, url: &str, key: &str) -> String {
    assert_eq!(captured["type"], "http", "{captured}");
    assert_eq!(
        (captured["method"].as_str(), captured["url"].as_str()),
        (Some("POST"), Some(url))
    );
    let header = |name: &str| captured_header(captured, name);
    // As it would be sent: the credential filled from the deliver form included.
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer s3cr3t-t0ken")
    );
    assert_eq!(header("x-campaign").as_deref(), Some("spring%2026"));
    assert_eq!(header("idempotency-key").as_deref(), Some(key));
    let content_type = header("content-type");
    assert_eq!(
        content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let body = captured["body"].as_str().unwrap();
    assert_eq!(header("content-length"), Some(body.len().to_string()));
    let link = (body.split('&')).find_map(|pair| pair.strip_prefix("link="));
    link.unwrap().to_owned()
}

async fn a_test_http_delivery_is_captured_and_never_sent(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let test = login_in(&app, "test").await;
    let fulfillment = crate::delivery::http::fulfillment(&receiver);
    let id = upload(&app, &test, &three_records(), &fulfillment).await;
    let fields = [("campaign", "spring 26"), ("api_token", "s3cr3t-t0ken")];
    let location = deliver(&app, &test, &id, &fields).await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&test), &location, 20).await;
    let sent = json!({"queued": 0, "sent": 3, "failed": 0});
    assert_eq!(status["counts"], sent, "{status}");
    let names = ["Harry", "Zo%C3%AB", "Ann"];
    let recipients = status["recipients"].as_array().unwrap();
    for (i, recipient) in recipients.iter().enumerate() {
        let url = format!("{}/hook/{}", receiver.0.url(), names[i]);
        let link =
            assert_captured_request(&recipient["captured"], &url, &format!("{delivery}.{i}"));
        // The test document's link opens at the gateway like a live one's.
        assert_link_opens(&app, &link, token_query(i)).await;
    }
    // Nothing left the machine. The receiver itself works: a live delivery reaches it, with
    // every header the capture showed, of the same value (but the per-job key and length).
    assert!(receiver.requests().await.is_empty());
    let live = login_in(&app, "live").await;
    let live_id = upload(&app, &live, &three_records(), &fulfillment).await;
    let live_location = deliver(&app, &live, &live_id, &fields).await;
    let done = wait_done(&app.client, &bearer(&live), &live_location, 20).await;
    assert!(done["recipients"][0].get("captured").is_none(), "{done}");
    let received = receiver.requests().await;
    assert_eq!(received.len(), 3);
    for pair in recipients[0]["captured"]["headers"].as_array().unwrap() {
        let (name, value) = (pair[0].as_str().unwrap(), &pair[1]);
        let seen = &received[0]["headers"][name];
        assert!(seen.is_string(), "{name} was not sent: {}", received[0]);
        if !["idempotency-key", "content-length"].contains(&name) {
            assert_eq!(seen, value, "{name}");
        }
    }
}

/// Checks one captured email: the server by address only (its credentials are never shown),
/// the envelope, and the RFC 5322 message's headers.
fn assert_captured_email(captured: &Value, server: &str, to: &str, message_id: &str) {
    assert_eq!(captured["type"], "email", "{captured}");
    assert_eq!(captured["smtpServer"], server);
    assert!(!captured.to_string().contains("env pass"), "{captured}");
    assert_eq!(captured["mailFrom"], "documents@sealpost.example");
    assert_eq!(captured["rcptTo"], json!([to]));
    let message = captured["message"].as_str().unwrap();
    assert!(message.contains(&format!("To: {to}\r\n")), "{message}");
    assert!(message.contains("Subject: Your document, "), "{message}");
    let message_id = format!("Message-ID: {message_id}\r\n");
    assert!(message.contains(&message_id), "{message}");
}

async fn a_test_email_delivery_is_captured_and_never_sent(db: Db) {
    let sink = SmtpSink::start_with_login("sealpost@ex:env pass!");
    let app = TestApp::spawn_with(db, FAST).await;
    let test = login_in(&app, "test").await;
    let fulfillment = json!({
        "type": "email",
        "from": "documents@sealpost.example",
        "to": "{+email_address}",
        "subject": "Your document, {+first_name}",
        "body": "Hello {+first_name}: {+link}\n",
    });
    let id = upload(&app, &test, &three_records(), &fulfillment).await;
    crate::secrets::record("smtp password", "env pass!");
    let smtp_url = format!(
        "smtp://sealpost%40ex:env%20pass!@127.0.0.1:{}",
        sink.peer.port
    );
    let location = deliver(&app, &test, &id, &[("smtp_url", &smtp_url)]).await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&test), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let to = ["h@ipo.st", "z@ipo.st", "a@ipo.st"];
    let server = format!("127.0.0.1:{}", sink.peer.port);
    for (i, recipient) in status["recipients"].as_array().unwrap().iter().enumerate() {
        let message_id = format!("<{delivery}.{i}@sealpost>");
        assert_captured_email(&recipient["captured"], &server, to[i], &message_id);
    }
    assert!(
        sink.messages().is_empty(),
        "nothing reached the SMTP server"
    );
}

async fn a_test_documents_landing_page_says_so(db: Db) {
    let app = TestApp::spawn(db).await;
    let (live, test) = (login_in(&app, "live").await, login_in(&app, "test").await);
    let accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
    for (token, is_test) in [(&test, true), (&live, false)] {
        let doc = create(&app, token, b"landing", &[("audience", audience())]).await;
        let page = (no_redirects().get(harry(&app, &doc)))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let marked = page.headers().get("sealpost-environment").cloned();
        let body = page.text().await.unwrap();
        assert_eq!(body.contains("Test document"), is_test, "{body}");
        assert_eq!(marked.is_some(), is_test);
        // Otherwise it works like a live one: the handle serves the content.
        let redirect = no_redirects().get(harry(&app, &doc)).send().await.unwrap();
        assert_eq!(redirect.status(), 303);
        assert_eq!(
            redirect.headers().get("sealpost-environment").is_some(),
            is_test
        );
        let handle = redirect.headers()["location"].to_str().unwrap().to_owned();
        let content = reqwest::get(&handle).await.unwrap().bytes().await.unwrap();
        assert_eq!(content.as_ref(), b"landing");
    }
}

async fn an_api_keys_environment_is_its_documents(db: Db) {
    let app = TestApp::spawn(db).await;
    let (live, test) = (login_in(&app, "live").await, login_in(&app, "test").await);
    let mut keys = Vec::new();
    for environment in ["live", "test"] {
        let body = json!({"name": format!("ci-{environment}"), "scopes": ["read", "write"],
            "environment": environment});
        let response = (app.client.post(app.url("/keys")))
            .bearer_auth(&live)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        let key = created["key"].as_str().unwrap().to_owned();
        crate::secrets::record("api key", &key);
        assert!(key.starts_with(&format!("sp_{environment}_")), "{key}");
        keys.push(key);
    }
    for (key, token, other) in [(&keys[0], &live, &test), (&keys[1], &test, &live)] {
        let form = crate::common::document_form("keyed.pdf", b"keyed".to_vec());
        let response = (app.client.post(app.url("/documents")))
            .header("x-api-key", key.as_str())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let record: Value = response.json().await.unwrap();
        let id = record["id"].as_str().unwrap();
        // The document is the key's environment's: a token of it sees it, the other does not.
        assert_eq!(app.download(token, id).await.unwrap(), b"keyed");
        assert!(browse(&app, token).await.iter().any(|listed| listed == id));
        assert_unreachable(&app, other, id).await;
    }
}

async fn deleting_a_test_document_wipes_its_captures(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let test = login_in(&app, "test").await;
    let fulfillment = crate::delivery::http::fulfillment(&receiver);
    let id = upload(&app, &test, &three_records(), &fulfillment).await;
    let fields = [("campaign", "c"), ("api_token", "t0ken-wiped")];
    let location = deliver(&app, &test, &id, &fields).await;
    wait_done(&app.client, &bearer(&test), &location, 20).await;
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap().id;
    let doc = schema::DocumentId::parse(&id).unwrap();
    let delivery = schema::DocumentId::parse(location.rsplit('/').next().unwrap()).unwrap();
    let captured = || async {
        let status = repo
            .delivery(&producer, &doc, &delivery)
            .await
            .unwrap()
            .unwrap();
        (status.recipients.iter())
            .map(|recipient| recipient.captured.is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(captured().await, [true; 3]);
    let deleted = app.delete(&test, &format!("/documents/{id}")).send().await;
    assert_eq!(deleted.unwrap().status(), 204);
    assert_eq!(captured().await, [false; 3], "wiped with the document");
    assert!(receiver.requests().await.is_empty());
}

async fn a_test_xmlrpc_delivery_is_captured_and_never_sent(db: Db) {
    // Any request at all would reach the receiver: it records whatever it is sent.
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let test = login_in(&app, "test").await;
    let fulfillment = json!({"type": "xmlrpc", "href": format!("{}/RPC2", receiver.0.url()),
        "methodName": "mailing.send", "params": ["{+email_address}", "{list_id}", "{+link}"]});
    let id = upload(&app, &test, &three_records(), &fulfillment).await;
    let location = deliver(&app, &test, &id, &[("list_id", "L-42")]).await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&test), &location, 20).await;
    let to = ["h@ipo.st", "z@ipo.st", "a@ipo.st"];
    for (i, recipient) in status["recipients"].as_array().unwrap().iter().enumerate() {
        let captured = &recipient["captured"];
        assert_eq!(captured["type"], "xmlrpc", "{recipient}");
        assert_eq!(captured["url"], format!("{}/RPC2", receiver.0.url()));
        assert_eq!(
            captured_header(captured, "content-type").as_deref(),
            Some("text/xml")
        );
        let key = captured_header(captured, "idempotency-key");
        assert_eq!(key, Some(format!("{delivery}.{i}")));
        let body = captured["body"].as_str().unwrap();
        let call = format!(
            "<methodCall><methodName>mailing.send</methodName><params><param><value><string>{}\
             </string></value></param><param><value><string>L-42</string></value></param>",
            to[i]
        );
        assert!(body.contains(&call), "{body}");
    }
    assert!(receiver.requests().await.is_empty());
}
