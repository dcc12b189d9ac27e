//! The gateway's audit writer under concurrency (issue 20, item 3): on SQLite the log appends
//! run on a connection and thread of their own (`schema/src/sqlite/log_writer.rs`), on
//! PostgreSQL through sqlx; either way concurrent requests' records share commits, every
//! answered request has its row, hit numbers are gapless per document across instances over
//! one database, and a log that cannot be written refuses requests without leaving anything
//! half-written (no hit counter advanced for a refused request).

use futures_util::future::join_all;

use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{Doc, audience, create, harry, no_redirects};
use crate::scaled_state::Second;

on_both_databases!(
    concurrent_requests_are_numbered_one_to_n,
    two_instances_over_one_database_number_without_gaps,
    a_refused_request_advances_no_hit_counter,
);

/// Requests in flight at once.
const N: usize = 48;

/// `count` concurrent requests for `doc` on the gateway at `base`; each must answer 303.
async fn request_all(base: &str, app: &TestApp, doc: &Doc, count: usize) {
    let client = no_redirects();
    let url = harry(app, doc).replacen(&app.gateway, base, 1);
    let statuses = join_all((0..count).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move { client.get(url).send().await.unwrap().status() }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
}

/// The document's gateway-log hit numbers in write order, each checked against the line's own
/// hit-number column (the 8th).
async fn hits(app: &TestApp, doc: &Doc) -> Vec<i64> {
    let repo = app.repo().await;
    let document = schema::DocumentId::parse(&doc.id).unwrap();
    let from = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let to = chrono::Utc::now() + chrono::Duration::days(1);
    let lines = repo
        .gateway_log(None, Some(&document), from, to)
        .await
        .unwrap();
    lines
        .iter()
        .map(|line| {
            let hit = line.hit.unwrap();
            let column = line.fields.split('\t').nth(7).unwrap();
            assert_eq!(column, hit.to_string(), "{}", line.fields);
            hit
        })
        .collect()
}

/// Renames a table from outside the services (a log that cannot be written).
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

fn sorted(mut hits: Vec<i64>) -> Vec<i64> {
    hits.sort_unstable();
    hits
}

fn one_to(n: usize) -> Vec<i64> {
    (1..=i64::try_from(n).unwrap()).collect()
}

async fn concurrent_requests_are_numbered_one_to_n(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"numbered", &[("audience", audience())]).await;

    request_all(&app.gateway, &app, &doc, N).await;
    let hits = hits(&app, &doc).await;
    // Exactly one row per answered request, numbered 1..N in the order they were written.
    assert_eq!(hits, one_to(N));
}

async fn two_instances_over_one_database_number_without_gaps(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"shared", &[("audience", audience())]).await;
    let second = Second::start(&app).await;

    // Both gateways' writers append to the same log at the same time, each with its own
    // connection: the counter is read and advanced inside each write transaction.
    for _ in 0..3 {
        tokio::join!(
            request_all(&app.gateway, &app, &doc, N),
            request_all(&second.gateway, &app, &doc, N),
        );
    }
    second.stop().await;
    assert_eq!(sorted(hits(&app, &doc).await), one_to(6 * N));
}

async fn a_refused_request_advances_no_hit_counter(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"counted", &[("audience", audience())]).await;
    request_all(&app.gateway, &app, &doc, 3).await;

    // The hit counter upsert would succeed, the insert fails: the whole transaction must go.
    rename_table(&app, "gateway_log", "gateway_log_off").await;
    let client = no_redirects();
    let refused = join_all((0..8).map(|_| client.get(harry(&app, &doc)).send())).await;
    for response in refused {
        let response = response.unwrap();
        assert_eq!(response.status(), 503);
        assert!(response.headers().get("location").is_none());
    }
    rename_table(&app, "gateway_log_off", "gateway_log").await;

    request_all(&app.gateway, &app, &doc, 2).await;
    assert_eq!(hits(&app, &doc).await, one_to(5));
}
