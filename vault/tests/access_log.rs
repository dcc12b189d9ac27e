//! The access-log writer on a real SQLite database: batches, flushes, and nothing lost on close.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use schema::{DocumentId, ProducerId, Repository};
use vault::access_log::{AccessLog, AccessRecord, BATCH_MAX};

async fn repo() -> (tempfile::TempDir, Arc<dyn Repository>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("log.db").display());
    let repo = schema::connect(&url).await.unwrap();
    (dir, repo)
}

fn record(producer: &ProducerId, document: &DocumentId, n: u64) -> AccessRecord {
    AccessRecord {
        document_id: Some(document.clone()),
        producer_id: Some(producer.clone()),
        time: Utc::now(),
        remote_ip: None,
        operation: "REST.GET.OBJECT".into(),
        key: None,
        request_uri: "\"GET /h/<redacted> HTTP/1.1\"".into(),
        protocol: "HTTP/1.1".into(),
        status: 200,
        error_code: None,
        bytes_sent: n,
        object_size: None,
        total_time_ms: 0,
        referer: None,
        user_agent: None,
    }
}

async fn stored(repo: &dyn Repository, producer: &ProducerId) -> Vec<u64> {
    let (from, to) = (Utc::now() - TimeDelta::hours(1), Utc::now());
    repo.vault_log(producer, None, from, to)
        .await
        .unwrap()
        .iter()
        .map(|row| row.fields.split('\t').nth(9).unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn close_writes_every_record() {
    let (_dir, repo) = repo().await;
    let (producer, document) = (ProducerId::random(), DocumentId::random());
    // An hour between ticks: only full batches and the close may write.
    let log = AccessLog::spawn(repo.clone(), Duration::from_secs(3600));
    let total = 3 * BATCH_MAX as u64 + 7;
    // Four clones, as four workers would hold, interleaving their records.
    for i in 0..4 {
        let clone = log.clone();
        for n in (i..total).step_by(4) {
            clone.record(record(&producer, &document, n));
        }
    }
    log.close().await;
    let mut written = stored(repo.as_ref(), &producer).await;
    written.sort_unstable();
    assert_eq!(written, (0..total).collect::<Vec<_>>());

    // After close, records are dropped with a warning, never a panic.
    log.record(record(&producer, &document, 0));
    log.flush().await;
    assert_eq!(stored(repo.as_ref(), &producer).await.len(), total as usize);
}

#[tokio::test]
async fn full_batches_and_ticks_write_without_a_close() {
    let (_dir, repo) = repo().await;
    let (producer, document) = (ProducerId::random(), DocumentId::random());
    let log = AccessLog::spawn(repo.clone(), Duration::from_secs(3600));
    for n in 0..BATCH_MAX as u64 {
        log.record(record(&producer, &document, n));
    }
    let mut waited = 0;
    while stored(repo.as_ref(), &producer).await.len() < BATCH_MAX && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(stored(repo.as_ref(), &producer).await.len(), BATCH_MAX);

    let ticking = AccessLog::spawn(repo.clone(), Duration::from_millis(200));
    ticking.record(record(&producer, &document, 1));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(stored(repo.as_ref(), &producer).await.len(), BATCH_MAX + 1);
    log.close().await;
    ticking.close().await;
}

#[tokio::test]
async fn unscoped_records_are_kept_but_not_exported() {
    let (_dir, repo) = repo().await;
    let (producer, document) = (ProducerId::random(), DocumentId::random());
    let log = AccessLog::spawn(repo.clone(), Duration::from_secs(3600));
    log.record(AccessRecord {
        producer_id: None,
        ..record(&producer, &document, 5)
    });
    log.record(record(&producer, &document, 6));
    log.flush().await;
    assert_eq!(stored(repo.as_ref(), &producer).await, [6]);
    log.close().await;
}
