//! The vault access log: one record per request, DESIGN.md's 14 columns, no handle anywhere,
//! written in batches and completely on a clean stop.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::common::{Db, SEGMENT, TestApp, on_both_databases, pseudo_random};

on_both_databases!(
    every_request_leaves_one_record_and_no_handle,
    records_are_flushed_within_the_interval,
    a_broken_download_is_logged_with_what_was_sent,
);

/// Every row's `fields`, in write order, scoped or not (straight from the table), less the
/// API server's own calls to the internal object API, which only the split wiring makes
/// (`tests/e2e/wiring.rs`): these tests are about viewers' requests.
pub async fn all_lines(app: &TestApp) -> Vec<String> {
    let url = app.settings.database_url();
    let query = "SELECT fields FROM vault_log ORDER BY seq";
    let mut lines: Vec<String> = if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    };
    lines.retain(|line| {
        !line
            .split('\t')
            .nth(5)
            .is_some_and(|uri| uri.contains(" /internal/"))
    });
    lines
}

fn columns(line: &str) -> Vec<&str> {
    let columns: Vec<&str> = line.split('\t').collect();
    assert_eq!(columns.len(), 14, "{line}");
    columns
}

/// What one request should have left: (operation, request-URI pattern, status, error code,
/// bytes sent, scoped to the document).
struct Expected {
    operation: &'static str,
    uri: String,
    status: &'static str,
    code: &'static str,
    bytes: String,
    scoped: bool,
}

async fn every_request_leaves_one_record_and_no_handle(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let started = Utc::now();
    let token = app.login().await;
    let content = pseudo_random(3 * SEGMENT, 51);
    let record = app.upload(&token, "log.pdf", content.clone()).await;
    let id = record["id"].as_str().unwrap().to_owned();
    let claims = app.handle_claims(&id, 300).await;
    let handle = app.gateway_signer().sign(&claims);
    let url = format!("{}/h/{handle}", app.vault);
    let expired = app.handle_url(&id, -5).await;
    let expired_handle = expired.rsplit('/').next().unwrap().to_owned();
    let nonce = claims.nonce.to_string();
    let size = content.len().to_string();
    let client = &app.client;

    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status();
        response.bytes().await.unwrap();
        status.as_u16()
    };
    let with_headers = |request: reqwest::RequestBuilder| {
        request
            .header("referer", "https://gw.example/k3q?telephone=4155550100")
            .header("user-agent", "e2e\tagent")
    };
    assert_eq!(send(with_headers(client.get(&url))).await, 200);
    assert_eq!(
        send(client.get(&url).header("range", "bytes=10-19")).await,
        206
    );
    assert_eq!(
        send(client.get(&url).header("range", "bytes=999999999-")).await,
        416
    );
    assert_eq!(send(client.head(&url)).await, 200);
    assert_eq!(send(client.get(format!("{url}?x=1"))).await, 200);
    assert_eq!(
        send(client.get(format!("{}/h/{}x", app.vault, &handle[1..]))).await,
        404
    );
    assert_eq!(send(client.get(&expired)).await, 410);
    assert_eq!(send(client.post(&url)).await, 405);
    assert_eq!(
        send(client.get(format!("{}/favicon.ico?secret=1", app.vault))).await,
        404
    );
    app.stop().await;

    let handle_uri = |method: &str| format!("\"{method} /h/<redacted:{nonce}> HTTP/1.1\"");
    let expected = [
        (
            "REST.GET.OBJECT",
            handle_uri("GET"),
            "200",
            "-",
            size.clone(),
            true,
        ),
        (
            "REST.GET.OBJECT",
            handle_uri("GET"),
            "206",
            "-",
            "10".into(),
            true,
        ),
        (
            "REST.GET.OBJECT",
            handle_uri("GET"),
            "416",
            "InvalidRange",
            String::new(),
            true,
        ),
        (
            "REST.HEAD.OBJECT",
            handle_uri("HEAD"),
            "200",
            "-",
            "0".into(),
            true,
        ),
        (
            "REST.GET.OBJECT",
            handle_uri("GET"),
            "200",
            "-",
            size.clone(),
            true,
        ),
        (
            "REST.GET.OBJECT",
            "\"GET /h/<redacted> HTTP/1.1\"".into(),
            "404",
            "NoSuchHandle",
            String::new(),
            false,
        ),
        (
            "REST.GET.OBJECT",
            "".into(),
            "410",
            "ExpiredHandle",
            String::new(),
            true,
        ),
        (
            "REST.POST.UNKNOWN",
            "\"POST /h/<redacted> HTTP/1.1\"".into(),
            "405",
            "MethodNotAllowed",
            String::new(),
            false,
        ),
        (
            "REST.GET.UNKNOWN",
            "\"GET /favicon.ico HTTP/1.1\"".into(),
            "404",
            "NoSuchHandle",
            String::new(),
            false,
        ),
    ]
    .map(|(operation, uri, status, code, bytes, scoped)| Expected {
        operation,
        uri,
        status,
        code,
        bytes,
        scoped,
    });

    let lines = all_lines(&app).await;
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, expected) in lines.iter().zip(&expected) {
        for secret in [&handle, &expired_handle] {
            assert!(!line.contains(&secret[..40]), "a handle in {line}");
        }
        assert!(
            !line.contains("4155550100") && !line.contains("secret"),
            "{line}"
        );
        let c = columns(line);
        let time = DateTime::parse_from_rfc3339(c[1]).unwrap();
        assert!(c[1].ends_with('Z') && c[1].len() == 24, "{line}");
        assert!(time >= started - chrono::Duration::seconds(1), "{line}");
        assert_eq!(c[2], "127.0.0.1");
        assert_eq!(c[3], expected.operation, "{line}");
        if !expected.uri.is_empty() {
            assert_eq!(c[5], expected.uri, "{line}");
        }
        assert_eq!(c[6], "HTTP/1.1");
        assert_eq!(c[7], expected.status, "{line}");
        assert_eq!(c[8], expected.code, "{line}");
        if !expected.bytes.is_empty() {
            assert_eq!(c[9], expected.bytes, "{line}");
        }
        c[11].parse::<u64>().unwrap();
        if expected.scoped {
            assert_eq!(c[0], id, "{line}");
            assert_eq!(c[4], claims.object.as_str(), "{line}");
            assert_eq!(c[10], size, "{line}");
        } else {
            assert_eq!((c[0], c[4], c[10]), ("-", "-", "-"), "{line}");
        }
    }
    let first = columns(&lines[0]);
    assert_eq!(first[12], "https://gw.example/k3q");
    assert_eq!(first[13], "e2e\\tagent");
    let expired_uri = columns(&lines[6])[5];
    assert!(expired_uri.starts_with("\"GET /h/<redacted:") && !expired_uri.contains(&nonce));

    // The producer's own view: exactly the records of handles naming their document.
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap();
    let document = schema::DocumentId::parse(&id).unwrap();
    let scoped = repo
        .vault_log(&producer.id, Some(&document), started, Utc::now())
        .await
        .unwrap();
    let scoped_lines: Vec<&str> = scoped.iter().map(|r| r.fields.as_str()).collect();
    let wanted: Vec<&str> = lines
        .iter()
        .zip(&expected)
        .filter(|(_, e)| e.scoped)
        .map(|(line, _)| line.as_str())
        .collect();
    assert_eq!(scoped_lines, wanted);
}

async fn records_are_flushed_within_the_interval(db: Db) {
    let app = TestApp::spawn_with(db, &[("vault.log_flush_secs", "1")]).await;
    let token = app.login().await;
    let record = app.upload(&token, "f.pdf", b"flush".to_vec()).await;
    let url = app.handle_url(record["id"].as_str().unwrap(), 300).await;
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    let mut lines = Vec::new();
    for _ in 0..40 {
        lines = all_lines(&app).await;
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 1, "written without a stop");
}

async fn a_broken_download_is_logged_with_what_was_sent(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let content = pseudo_random(32 * SEGMENT, 52);
    let record = app.upload(&token, "broken.bin", content.clone()).await;
    let url = app.handle_url(record["id"].as_str().unwrap(), 300).await;
    let files = app.object_files();
    let mut stored = app.read_object(&files[0]);
    stored[16 + 31 * (SEGMENT + 16) + 1] ^= 0x01;
    app.write_object(&files[0], &stored);
    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
    app.stop().await;

    let lines = all_lines(&app).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let c = columns(&lines[0]);
    assert_eq!((c[7], c[8]), ("200", "IntegrityError"), "{}", lines[0]);
    let sent: usize = c[9].parse().unwrap();
    assert!(sent < content.len(), "{}", lines[0]);
    assert_eq!(c[10], content.len().to_string());
}
