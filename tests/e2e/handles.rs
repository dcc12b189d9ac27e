//! The viewer's download: `GET`/`HEAD {vault}/h/{handle}`, its headers, ranges and refusals.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{
    Db, SEGMENT, TestApp, document_form, on_both_databases, pseudo_random, sha1_hex,
};

on_both_databases!(
    downloads_carry_every_header_and_head_matches_get,
    ranges_follow_the_table,
    refused_handles_answer_404_or_410,
    deleted_replaced_and_expired_documents_are_refused,
    other_methods_and_paths_are_refused,
    content_disposition_is_sanitised,
    a_segment_failing_mid_stream_aborts_the_connection,
);

/// Request headers of a case.
type Headers = Vec<(&'static str, String)>;
/// An expected status and, for 206, the inclusive byte range.
type Outcome = (u16, Option<(u64, u64)>);

/// ~200 KiB: four 64 KiB segments, the last one short.
const SIZE: usize = 200 * 1024;

/// Uploads `content` as `name` and returns (record, handle URL).
async fn document(app: &TestApp, name: &str, content: Vec<u8>) -> (Value, String) {
    let token = app.login().await;
    let record = app.upload(&token, name, content).await;
    let url = app.handle_url(record["id"].as_str().unwrap(), 300).await;
    (record, url)
}

async fn get(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

/// The headers without `date`, which may tick between two responses.
fn without_date(headers: &HeaderMap) -> HeaderMap {
    let mut headers = headers.clone();
    headers.remove(HeaderName::from_static("date"));
    headers
}

async fn downloads_carry_every_header_and_head_matches_get(db: Db) {
    let app = TestApp::spawn(db).await;
    let content = pseudo_random(SIZE, 41);
    let (record, url) = document(&app, "report.pdf", content.clone()).await;
    let token = app.login().await;
    let id = record["id"].as_str().unwrap();
    let api_record = app
        .get(&token, &format!("/documents/{id}"))
        .send()
        .await
        .unwrap();
    let last_modified = header(&api_record, "last-modified").to_owned();

    let response = get(&app, &url, &[]).await;
    assert_eq!(response.status(), 200);
    for (name, value) in [
        ("content-type", "application/pdf"),
        ("content-length", &SIZE.to_string()),
        (
            "content-disposition",
            "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
        ),
        ("etag", &format!("\"{}\"", sha1_hex(&content))),
        ("last-modified", &last_modified),
        ("accept-ranges", "bytes"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "sandbox"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(header(&response, name), value, "{name}");
    }
    let get_headers = without_date(response.headers());
    assert!(response.bytes().await.unwrap() == content);

    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(without_date(head.headers()), get_headers);
    assert!(head.bytes().await.unwrap().is_empty());

    // HEAD ignores Range (RFC 9110 §14.2): the same 200 headers.
    let head = app
        .client
        .head(&url)
        .header("range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(without_date(head.headers()), get_headers);
}

async fn ranges_follow_the_table(db: Db) {
    let app = TestApp::spawn(db).await;
    let content = pseudo_random(SIZE, 42);
    let (_, url) = document(&app, "video.mp4", content.clone()).await;
    let etag = format!("\"{}\"", sha1_hex(&content));
    let last_modified = header(&get(&app, &url, &[]).await, "last-modified").to_owned();
    let n = SIZE as u64;
    let seg = SEGMENT as u64;
    let partial = |start: u64, end: u64| (206, Some((start, end)));
    let whole = (200, None);
    let cases: Vec<(String, Headers, Outcome)> = vec![
        (
            "first byte".into(),
            vec![("range", "bytes=0-0".into())],
            partial(0, 0),
        ),
        (
            "last byte".into(),
            vec![("range", format!("bytes={}-{}", n - 1, n - 1))],
            partial(n - 1, n - 1),
        ),
        (
            "across a segment boundary".into(),
            vec![("range", format!("bytes={}-{}", seg - 10, seg + 9))],
            partial(seg - 10, seg + 9),
        ),
        (
            "across two boundaries".into(),
            vec![("range", format!("bytes={}-{}", seg - 1, 2 * seg))],
            partial(seg - 1, 2 * seg),
        ),
        (
            "suffix".into(),
            vec![("range", "bytes=-100".into())],
            partial(n - 100, n - 1),
        ),
        (
            "suffix longer than the document".into(),
            vec![("range", format!("bytes=-{}", n + 5))],
            partial(0, n - 1),
        ),
        (
            "open-ended".into(),
            vec![("range", format!("bytes={}-", 3 * seg + 1))],
            partial(3 * seg + 1, n - 1),
        ),
        (
            "end past the end".into(),
            vec![("range", format!("bytes=100-{}", n * 2))],
            partial(100, n - 1),
        ),
        (
            "whole".into(),
            vec![("range", "bytes=0-".into())],
            partial(0, n - 1),
        ),
        (
            "beyond the end".into(),
            vec![("range", format!("bytes={n}-"))],
            (416, None),
        ),
        (
            "far beyond the end".into(),
            vec![("range", format!("bytes={}-{}", n + 10, n + 20))],
            (416, None),
        ),
        (
            "several ranges".into(),
            vec![("range", "bytes=0-0,5-9".into())],
            whole,
        ),
        (
            "malformed".into(),
            vec![("range", "bytes=9-5".into())],
            whole,
        ),
        (
            "another unit".into(),
            vec![("range", "items=0-1".into())],
            whole,
        ),
        (
            "If-Range with the ETag".into(),
            vec![("range", "bytes=10-19".into()), ("if-range", etag.clone())],
            partial(10, 19),
        ),
        (
            "If-Range with Last-Modified".into(),
            vec![
                ("range", "bytes=10-19".into()),
                ("if-range", last_modified.clone()),
            ],
            partial(10, 19),
        ),
        (
            "If-Range with another ETag".into(),
            vec![
                ("range", "bytes=10-19".into()),
                ("if-range", "\"0000\"".into()),
            ],
            whole,
        ),
        (
            "If-Range with a weak ETag".into(),
            vec![
                ("range", "bytes=10-19".into()),
                ("if-range", format!("W/{etag}")),
            ],
            whole,
        ),
        (
            "If-Range with another date".into(),
            vec![
                ("range", "bytes=10-19".into()),
                ("if-range", "Mon, 01 Jan 2001 00:00:00 GMT".into()),
            ],
            whole,
        ),
    ];
    for (case, headers, (status, range)) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = get(&app, &url, &headers).await;
        assert_eq!(response.status().as_u16(), status, "{case}");
        assert_eq!(header(&response, "cache-control"), "no-store", "{case}");
        match (status, range) {
            (206, Some((start, end))) => {
                assert_eq!(
                    header(&response, "content-range"),
                    format!("bytes {start}-{end}/{n}"),
                    "{case}"
                );
                let len = (end - start + 1).to_string();
                assert_eq!(header(&response, "content-length"), len, "{case}");
                let body = response.bytes().await.unwrap();
                assert!(
                    body == content[start as usize..=end as usize],
                    "{case}: {} bytes",
                    body.len()
                );
            }
            (416, _) => {
                assert_eq!(header(&response, "content-range"), format!("bytes */{n}"));
                assert_eq!(
                    header(&response, "content-type"),
                    "application/problem+json"
                );
            }
            _ => {
                assert!(response.headers().get("content-range").is_none(), "{case}");
                assert!(response.bytes().await.unwrap() == content, "{case}");
            }
        }
    }
}

async fn assert_refused(app: &TestApp, url: &str, status: u16, what: &str) {
    let response = get(app, url, &[]).await;
    assert_eq!(response.status().as_u16(), status, "{what}");
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json",
        "{what}"
    );
    assert_eq!(header(&response, "cache-control"), "no-store", "{what}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status, "{what}");
}

async fn refused_handles_answer_404_or_410(db: Db) {
    let app = TestApp::spawn(db).await;
    let (record, url) = document(&app, "a.pdf", b"content".to_vec()).await;
    let id = record["id"].as_str().unwrap();
    let handle = url.rsplit('/').next().unwrap().to_owned();
    let vault = |handle: &str| format!("{}/h/{handle}", app.vault);

    let mut raw = URL_SAFE_NO_PAD.decode(&handle).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 0x01; // in the signature
    let bad_signature = URL_SAFE_NO_PAD.encode(&raw);
    let other_key =
        shared::handle::HandleSigner::new(shared::keys::SigningKey::generate().unwrap())
            .sign(&app.handle_claims(id, 300).await);
    let expired = app.handle_url(id, -10).await;
    for (what, url, status) in [
        ("bad encoding", vault(&"!".repeat(handle.len())), 404),
        ("truncated", vault(&handle[..handle.len() - 1]), 404),
        ("oversized", vault(&format!("{handle}AAAA")), 404),
        ("huge", vault(&"A".repeat(8000)), 404),
        ("bad signature", vault(&bad_signature), 404),
        ("another key", vault(&other_key), 404),
        ("expired", expired, 410),
    ] {
        assert_refused(&app, &url, status, what).await;
    }
    assert_eq!(get(&app, &url, &[]).await.status(), 200, "the real one");
}

async fn deleted_replaced_and_expired_documents_are_refused(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.expiry_sweep_secs", "3600")]).await;
    let token = app.login().await;

    let (record, url) = document(&app, "gone.pdf", b"v1".to_vec()).await;
    let id = record["id"].as_str().unwrap();
    let response = app.delete(&token, &format!("/documents/{id}")).send().await;
    assert!(response.unwrap().status().is_success());
    assert_refused(&app, &url, 404, "deleted").await;

    let (record, url) = document(&app, "old.pdf", b"v1".to_vec()).await;
    let id = record["id"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!("/documents/{id}")))
        .bearer_auth(&token)
        .multipart(document_form("new.pdf", b"v2".to_vec()))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_refused(&app, &url, 410, "replaced").await;
    let fresh = app.handle_url(id, 300).await;
    assert_eq!(get(&app, &fresh, &[]).await.bytes().await.unwrap(), "v2");

    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let form = document_form("brief.pdf", b"short-lived".to_vec()).text("expiration", soon);
    let record: Value = app.upload_form(&token, form).await.json().await.unwrap();
    let url = app.handle_url(record["id"].as_str().unwrap(), 300).await;
    assert_eq!(get(&app, &url, &[]).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_refused(&app, &url, 410, "expired document").await;
}

async fn other_methods_and_paths_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, url) = document(&app, "m.pdf", b"m".to_vec()).await;
    for method in [
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ] {
        let response = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(header(&response, "allow"), "GET, HEAD", "{method}");
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
    }
    for path in [
        "/",
        "/h/",
        "/h",
        "/favicon.ico",
        "/h/x/y",
        "/documents",
        "/internal/v1/x",
    ] {
        assert_refused(&app, &format!("{}{path}", app.vault), 404, path).await;
    }
}

/// Names go in through the repository, below the API's own name validation (which already
/// refuses control characters, `\` and `..`): the vault must be safe on its own.
async fn content_disposition_is_sanitised(db: Db) {
    let app = TestApp::spawn(db).await;
    let (record, url) = document(&app, "x.pdf", b"x".to_vec()).await;
    let id = schema::DocumentId::parse(record["id"].as_str().unwrap()).unwrap();
    let repo = app.repo().await;
    for (name, expected) in [
        (
            "say \"hi\".pdf",
            "inline; filename=\"say _hi_.pdf\"; filename*=UTF-8''say%20_hi_.pdf",
        ),
        (
            "reports/2024/q1.pdf",
            "inline; filename=\"reports_2024_q1.pdf\"; filename*=UTF-8''reports_2024_q1.pdf",
        ),
        (
            "../../etc/passwd",
            "inline; filename=\"_.._etc_passwd\"; filename*=UTF-8''_.._etc_passwd",
        ),
        (
            "..\\boot.ini",
            "inline; filename=\"_boot.ini\"; filename*=UTF-8''_boot.ini",
        ),
        (
            "a\r\nSet-Cookie: x=1\t\u{7}.pdf",
            "inline; filename=\"aSet-Cookie: x=1.pdf\"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1.pdf",
        ),
        (
            "invoice\u{202E}fdp.exe",
            "inline; filename=\"invoicefdp.exe\"; filename*=UTF-8''invoicefdp.exe",
        ),
        (
            "Résumé 日本.pdf",
            "inline; filename=\"R_sum_ __.pdf\"; \
             filename*=UTF-8''R%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.pdf",
        ),
    ] {
        let mut stored = repo.document_by_id(&id).await.unwrap().unwrap();
        let previous = stored.last_modified;
        stored.name = name.to_owned();
        assert!(repo.replace_document(&stored, previous).await.unwrap());
        let response = get(&app, &url, &[]).await;
        assert_eq!(response.status(), 200, "{name:?}");
        assert_eq!(
            header(&response, "content-disposition"),
            expected,
            "{name:?}"
        );
    }
}

async fn a_segment_failing_mid_stream_aborts_the_connection(db: Db) {
    let app = TestApp::spawn(db).await;
    // 32 segments: the vault checks the first 16 before answering, so damage in segment 30
    // shows up only after the 200 and the first MiB went out.
    let content = pseudo_random(32 * SEGMENT, 43);
    let (_, url) = document(&app, "big.bin", content.clone()).await;
    let files = app.object_files();
    assert_eq!(files.len(), 1);
    let mut stored = app.read_object(&files[0]);
    stored[16 + 30 * (SEGMENT + 16) + 7] ^= 0x20;
    app.write_object(&files[0], &stored);

    let response = get(&app, &url, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-length"),
        content.len().to_string()
    );
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "a clean end after {} bytes",
        body.unwrap().len()
    );

    // curl reports the broken transfer too (exit 18: partial file), having received less.
    let output = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            &url,
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(18), "{output:?}");
    let written = String::from_utf8(output.stdout).unwrap();
    let (code, size) = written.split_once(' ').unwrap();
    assert_eq!(code, "200");
    assert!(size.parse::<usize>().unwrap() < content.len(), "{written}");

    // A range inside the damaged segment is refused before any header; one before it is fine.
    let start = 30 * SEGMENT as u64;
    let damaged = format!("bytes={start}-{}", start + 10);
    assert_eq!(get(&app, &url, &[("range", &damaged)]).await.status(), 500);
    let response = get(&app, &url, &[("range", "bytes=0-99")]).await;
    assert_eq!(response.status(), 206);
    assert!(response.bytes().await.unwrap() == content[..100]);
}
