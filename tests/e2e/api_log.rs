//! The API access log: one final record per request with DESIGN.md's ten columns, an intent
//! record before every state-changing handler, no secret anywhere; and both the API and the
//! gateway fail closed when their log cannot be written.

use futures_util::TryStreamExt as _;
use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::gateway::{audience, create, harry, no_redirects};

on_both_databases!(
    every_request_leaves_one_record_with_ten_columns,
    the_api_fails_closed_when_its_log_cannot_be_written,
    the_gateway_issues_no_handle_when_its_log_cannot_be_written,
);

const EMAIL: &str = "operator@example.com";

/// Every API log line so far (the whole stored line), in write order, scoped or not: straight
/// from the table, since an export is per producer and intents and anonymous lines have none.
async fn api_lines(app: &TestApp) -> Vec<String> {
    let url = app.settings.database_url();
    let query = "SELECT fields FROM api_log ORDER BY seq";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    }
}

/// The producer's export of the API log.
async fn exported_lines(app: &TestApp, producer: &str) -> Vec<String> {
    let repo = app.repo().await;
    let producer = schema::ProducerId::parse(producer).unwrap();
    let from = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let to = chrono::Utc::now() + chrono::Duration::days(1);
    repo.export_log(
        schema::LogKind::Api,
        &schema::Tenant::live(producer.clone()),
        None,
        from,
        to,
    )
    .map_ok(|line| line.fields)
    .try_collect()
    .await
    .unwrap()
}

fn columns(line: &str) -> Vec<&str> {
    let columns: Vec<&str> = line.split('\t').collect();
    assert_eq!(columns.len(), 10, "{line}");
    columns
}

/// An intent record: written before a state-changing handler, without outcome columns.
fn is_intent(line: &str) -> bool {
    let columns = columns(line);
    columns[1] == "-" && columns[6] == "-"
}

/// Renames a table of the instance's database behind its back.
async fn rename_table(app: &TestApp, from: &str, to: &str) {
    use sqlx::Connection as _;
    let url = app.settings.database_url();
    let sql = sqlx::AssertSqlSafe(format!("ALTER TABLE {from} RENAME TO {to}"));
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    } else {
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    }
}

async fn producer_id(app: &TestApp, name: &str) -> String {
    let repo = app.repo().await;
    let producer = repo.producer_by_name(name).await.unwrap().unwrap();
    producer.id.as_str().to_owned()
}

/// What one request should have left in its final record.
struct Expected {
    method: &'static str,
    uri: String,
    status: &'static str,
    document: bool,
    authenticated: bool,
}

fn expect(
    method: &'static str,
    uri: impl Into<String>,
    status: &'static str,
    document: bool,
    authenticated: bool,
) -> Expected {
    Expected {
        method,
        uri: uri.into(),
        status,
        document,
        authenticated,
    }
}

async fn every_request_leaves_one_record_with_ten_columns(db: Db) {
    let app = TestApp::spawn(db).await;
    let client = &app.client;
    let key = app.default_key();
    let mut expected = Vec::new();

    let response = app.login_response(&key, EMAIL).await;
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    expected.push(expect("POST", "/login", "200", false, true));

    let bogus_key =
        "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LWJ1dC1hLXBhc3N3b3Jk\n-----END PRIVATE KEY-----";
    let response = app.login_response(bogus_key, "mallory@example.com").await;
    assert_eq!(response.status(), 401);
    expected.push(expect("POST", "/login", "401", false, false));

    let record = app
        .upload(&token, "logged.pdf", b"logged content".to_vec())
        .await;
    let id = record["id"].as_str().unwrap().to_owned();
    expected.push(expect("POST", "/documents", "201", true, true));

    let doc = format!("/documents/{id}");
    let response = app.get(&token, &doc).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let last_modified = response.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    expected.push(expect("GET", doc.clone(), "200", true, true));

    assert_eq!(app.download(&token, &id).await.unwrap(), b"logged content");
    expected.push(expect("GET", format!("{doc}/document"), "200", true, true));

    let response = client
        .put(app.url(&format!("{doc}/metadata")))
        .bearer_auth(&token)
        .json(&json!({"note": "body-text-never-logged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    expected.push(expect("PUT", format!("{doc}/metadata"), "204", true, true));

    // A kept parameter as sent, and a secret in an unknown one.
    let query = format!(
        "lastModified={}&token={token}",
        last_modified.replace(' ', "%20")
    );
    let response = app
        .get(&token, &format!("{doc}?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kept = format!(
        "{doc}?lastModified={}&token=<redacted>",
        last_modified.replace(' ', "%20")
    );
    expected.push(expect("GET", kept, "200", true, true));

    let response = app.get(&token, "/documents?limit=5").send().await.unwrap();
    assert_eq!(response.status(), 200);
    expected.push(expect("GET", "/documents?limit=5", "200", false, true));

    let response = app.delete(&token, &doc).send().await.unwrap();
    assert_eq!(response.status(), 204);
    expected.push(expect("DELETE", doc.clone(), "204", true, true));

    let response = app.get(&token, &doc).send().await.unwrap();
    assert_eq!(response.status(), 404);
    expected.push(expect("GET", doc.clone(), "404", false, true));

    // A junk path carrying the token: 404, the long segment redacted, nobody authenticated.
    let response = app
        .get(&token, &format!("/junk/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    expected.push(expect("GET", "/junk/<redacted>", "404", false, false));

    let response = client
        .patch(app.url("/documents"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    expected.push(expect("PATCH", "/documents", "405", false, false));

    let response = app
        .client
        .request(Method::POST, app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    expected.push(expect("POST", "/logout", "200", false, true));

    let response = app.get(&token, &doc).send().await.unwrap();
    assert_eq!(response.status(), 401);
    expected.push(expect("GET", doc.clone(), "401", false, false));

    let producer = producer_id(&app, "default").await;
    let lines = api_lines(&app).await;
    let (intents, finals): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|line| is_intent(line));
    assert_eq!(finals.len(), expected.len(), "{lines:#?}");
    let mut hits = 0;
    for (line, expected) in finals.iter().zip(&expected) {
        let c = columns(line);
        let context = format!("{} {}: {line}", expected.method, expected.uri);
        assert_eq!(
            (c[3], c[4], c[5], c[6]),
            (
                "127.0.0.1",
                expected.method,
                expected.uri.as_str(),
                expected.status
            ),
            "{context}"
        );
        assert!(c[1] >= c[2], "end before start: {context}");
        if expected.document {
            hits += 1;
            assert_eq!(
                (c[0], c[7]),
                (id.as_str(), hits.to_string().as_str()),
                "{context}"
            );
        } else {
            assert_eq!((c[0], c[7]), ("-", "-"), "{context}");
        }
        if expected.authenticated {
            assert_eq!((c[8], c[9]), (producer.as_str(), EMAIL), "{context}");
        } else {
            assert_eq!((c[8], c[9]), ("-", "-"), "{context}");
        }
    }
    assert_eq!(hits, 6);

    // One intent per state-changing request, before its final record, with the same arrival.
    let changing: Vec<&String> = finals
        .iter()
        .copied()
        .filter(|line| !matches!(columns(line)[4], "GET" | "HEAD"))
        .collect();
    assert_eq!(intents.len(), changing.len(), "{lines:#?}");
    for (intent, last) in intents.iter().zip(&changing) {
        let (i, f) = (columns(intent), columns(last));
        assert_eq!(i[2..6], f[2..6], "{intent} / {last}");
        assert_eq!((i[0], i[7], i[8], i[9]), ("-", "-", "-", "-"), "{intent}");
        let position = |wanted: &String| lines.iter().position(|line| line == wanted);
        assert!(position(intent) < position(last), "{lines:#?}");
    }

    // The producer's export holds exactly its authenticated lines.
    let scoped: Vec<String> = finals
        .iter()
        .filter(|line| columns(line)[8] == producer)
        .map(|line| (*line).clone())
        .collect();
    assert_eq!(exported_lines(&app, &producer).await, scoped);

    // No secret anywhere: token, keys, request bodies.
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    for line in &lines {
        for secret in [
            token.as_str(),
            &token[..40],
            &key_body[..24],
            "bm90LWEta2V5",
            "body-text-never-logged",
            "mallory",
        ] {
            assert!(!line.contains(secret), "{secret:?} in {line}");
        }
    }
}

async fn the_api_fails_closed_when_its_log_cannot_be_written(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let record = app.upload(&token, "kept.pdf", b"kept".to_vec()).await;
    let doc = format!("/documents/{}", record["id"].as_str().unwrap());
    let put_metadata = |value: i64| {
        app.client
            .put(app.url(&format!("{doc}/metadata")))
            .bearer_auth(&token)
            .json(&json!({"v": value}))
    };
    assert_eq!(put_metadata(1).send().await.unwrap().status(), 204);
    let objects = app.object_files();
    let lines = api_lines(&app).await.len();

    rename_table(&app, "api_log", "api_log_off").await;
    let refused = [
        (
            "create",
            app.client
                .post(app.url("/documents"))
                .bearer_auth(&token)
                .multipart(document_form("refused.pdf", b"refused".to_vec())),
        ),
        ("put", put_metadata(2)),
        (
            "update",
            app.client
                .post(app.url(&doc))
                .bearer_auth(&token)
                .multipart(Form::new().text("name", "renamed.pdf")),
        ),
        ("delete", app.delete(&token, &doc)),
        ("read", app.get(&token, &doc)),
        ("content", app.get(&token, &format!("{doc}/document"))),
        ("junk", app.client.get(app.url("/junk"))),
    ];
    for (what, request) in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 503, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 503, "{what}");
    }
    let response = app.login_response(&app.default_key(), EMAIL).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("authorization").is_none());
    rename_table(&app, "api_log_off", "api_log").await;

    // Nothing happened meanwhile: one document, its metadata and name as before, no object.
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        app.get_json(&token, &format!("{doc}/metadata")).await,
        json!({"v": 1})
    );
    assert_eq!(app.get_json(&token, &doc).await["name"], "kept.pdf");
    assert_eq!(app.object_files(), objects);
    // Nor was anything logged for the refused requests (the reads above add two lines).
    assert_eq!(api_lines(&app).await.len(), lines + 3);

    // And everything works again.
    assert_eq!(put_metadata(3).send().await.unwrap().status(), 204);
    app.upload(&token, "after.pdf", b"after".to_vec()).await;
    let listed: Value = app.get_json(&token, "/documents").await;
    assert_eq!(listed["documents"].as_array().unwrap().len(), 2, "{listed}");
}

async fn the_gateway_issues_no_handle_when_its_log_cannot_be_written(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"viewed", &[("audience", audience())]).await;
    let client = no_redirects();

    rename_table(&app, "gateway_log", "gateway_log_off").await;
    let response = client.get(harry(&app, &doc)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("location").is_none());
    let body = response.text().await.unwrap();
    assert!(!body.contains("/h/"), "{body}");
    rename_table(&app, "gateway_log_off", "gateway_log").await;

    let response = client.get(harry(&app, &doc)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.contains("/h/"), "{location}");
}
