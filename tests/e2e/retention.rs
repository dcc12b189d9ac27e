//! Audit-log retention (issue 7, item 6): lines older than a log's retention are purged by a
//! sweep that the API log records (an instance-level record before, one per producer after,
//! with the count); newer lines, other logs, documents and the chain stay, and an export taken
//! afterwards still verifies. Deleting a document keeps its audit history.

use std::time::Duration;

use chrono::Utc;
use schema::{DocumentId, GatewayLogRecord, LogKind, Repository};

use crate::common::{Db, TestApp, on_both_databases};
use crate::logs_export::{download, entries, entry, keys, verdict};

on_both_databases!(old_lines_are_purged_and_the_sweep_is_logged);

fn gateway_record(
    producer: &schema::ProducerId,
    document: &DocumentId,
    days_ago: i64,
    tag: &str,
) -> GatewayLogRecord {
    let time = Utc::now() - chrono::Duration::days(days_ago);
    GatewayLogRecord {
        producer_id: Some(producer.clone()),
        document_id: Some(document.clone()),
        time,
        head: shared::logline::RequestHead {
            document: Some(document.as_str()),
            start: time,
            end: Some(time),
            remote: Some([127, 0, 0, 1].into()),
            method: "GET",
            uri: &format!("/{tag}"),
            status: Some(303),
        }
        .line(),
    }
}

async fn count(repo: &dyn Repository, kind: LogKind, tag: &str) -> usize {
    let from = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let to = Utc::now() + chrono::Duration::days(1);
    let producer = repo.producer_by_name("default").await.unwrap().unwrap();
    let lines: Vec<_> = futures_util::StreamExt::collect(repo.export_log(
        kind,
        &schema::Tenant::live(producer.id.clone()),
        None,
        from,
        to,
    ))
    .await;
    lines
        .into_iter()
        .filter(|line| line.as_ref().unwrap().fields.contains(tag))
        .count()
}

async fn old_lines_are_purged_and_the_sweep_is_logged(db: Db) {
    let app = TestApp::spawn_with(
        db,
        &[
            ("audit.gateway_retention_days", "30"),
            ("audit.retention_sweep_secs", "1"),
        ],
    )
    .await;
    let token = app.login().await;
    let record = app.upload(&token, "kept.pdf", b"kept".to_vec()).await;
    let document = DocumentId::parse(record["id"].as_str().unwrap()).unwrap();
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap().id;
    let old = [
        gateway_record(&producer, &document, 45, "aged-one"),
        gateway_record(&producer, &document, 31, "aged-two"),
    ];
    let fresh = gateway_record(&producer, &document, 29, "fresh-one");
    repo.append_gateway_log(&[old[0].clone(), old[1].clone(), fresh])
        .await
        .unwrap();

    // The sweep runs every second: within a few, the two aged lines are gone.
    let mut purged = false;
    for _ in 0..100 {
        if count(&*repo, LogKind::Gateway, "/aged-").await == 0 {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged, "the aged gateway lines were not purged");
    assert_eq!(count(&*repo, LogKind::Gateway, "/fresh-one").await, 1);

    // The producer's API log names the sweep and its count; an instance-level record (no
    // producer) preceded it.
    let mut sweep_lines = Vec::new();
    for _ in 0..50 {
        let from = chrono::DateTime::<Utc>::UNIX_EPOCH;
        let to = Utc::now() + chrono::Duration::days(1);
        let lines: Vec<_> = futures_util::StreamExt::collect(repo.export_log(
            LogKind::Api,
            &schema::Tenant::live(producer.clone()),
            None,
            from,
            to,
        ))
        .await;
        sweep_lines = lines
            .into_iter()
            .map(|line| line.unwrap().fields)
            .filter(|fields| fields.contains("\tRETENTION\t"))
            .collect();
        if !sweep_lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sweep_lines.len(), 1, "{sweep_lines:#?}");
    let columns: Vec<&str> = sweep_lines[0].split('\t').collect();
    assert_eq!(columns.len(), 10, "{columns:?}");
    assert_eq!(
        (columns[0], columns[3], columns[4]),
        ("-", "-", "RETENTION")
    );
    assert!(
        columns[5].starts_with("gateway.log before ") && columns[5].ends_with(": 2 lines"),
        "{}",
        columns[5]
    );
    assert_eq!(columns[8], producer.as_str());
    let url = app.settings.database_url();
    let query = "SELECT count(*) FROM api_log WHERE producer_id IS NULL AND fields LIKE '%RETENTION%gateway.log before %'";
    let instance_level: i64 = if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
    };
    assert!(instance_level >= 1, "no instance-level sweep record");

    // The document is untouched, and an export taken now verifies (its first gateway line
    // follows purged ones) and holds the fresh line and the sweep record.
    assert_eq!(
        app.download(&token, document.as_str()).await.unwrap(),
        b"kept"
    );
    let keys = keys(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("after-retention.zip");
    download(&app, &token, "/logs", &keys, &file).await;
    verdict(&file, &keys).await.unwrap();
    let zipped = entries(&file).await;
    assert!(entry(&zipped, "gateway.log").contains("/fresh-one"));
    assert!(!entry(&zipped, "gateway.log").contains("/aged-"));
    assert!(entry(&zipped, "api.log").contains("\tRETENTION\t"));

    // Deleting the document never deletes its audit history: its own export still holds it.
    let deleted = app
        .delete(&token, &format!("/documents/{document}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let file = dir.path().join("deleted-document.zip");
    download(&app, &token, &format!("/logs/{document}"), &keys, &file).await;
    verdict(&file, &keys).await.unwrap();
    let zipped = entries(&file).await;
    assert!(entry(&zipped, "gateway.log").contains("/fresh-one"));
    assert!(entry(&zipped, "api.log").contains(&format!("\tDELETE\t/documents/{document}\t204")));
}
