//! Viewer attribution (migrations 0019, 0020): the rows the report reads go with their log
//! lines at retention, and with their document when it is deleted.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::views::{GatewayView, RecordOf, ViewOutcome};
use schema::{DocumentRecord, GatewayLogRecord, LogKind, Repository, VaultLogRecord};

use crate::fixtures::{at, stored_document};

conformance!(
    retention_takes_views_and_downloads_with_their_lines,
    a_deleted_document_leaves_no_attribution,
);

/// One gateway request of record `record` at `time` that issued the handle `nonce`.
async fn visit(
    repo: &dyn Repository,
    doc: &DocumentRecord,
    time: DateTime<Utc>,
    record: i64,
    nonce: &str,
) {
    let line = GatewayLogRecord {
        producer_id: Some(doc.producer_id.clone()),
        document_id: Some(doc.id.clone()),
        time,
        head: format!("{}\tvisit {nonce}", doc.id.as_str()),
    };
    let view = GatewayView {
        record,
        outcome: ViewOutcome::Passed,
        nonce: Some(nonce.to_owned()),
        address: Some("192.0.2.7".to_owned()),
    };
    repo.append_gateway_log_viewed(&[line], &[Some(view)])
        .await
        .unwrap();
}

/// A complete download of 10 bytes through the handle `nonce` at `time` (a vault line in
/// DESIGN.md's 14 columns, as the vault writes it).
async fn download(repo: &dyn Repository, doc: &DocumentRecord, time: DateTime<Utc>, nonce: &str) {
    let fields = format!(
        "{}\t2026-01-01T00:00:00.000Z\t192.0.2.7\tREST.GET.OBJECT\tk\t\
         \"GET /h/<redacted:{nonce}> HTTP/1.1\"\tHTTP/1.1\t200\t-\t10\t10\t1\t-\t-",
        doc.id.as_str()
    );
    let line = VaultLogRecord {
        producer_id: Some(doc.producer_id.clone()),
        document_id: Some(doc.id.clone()),
        time,
        fields,
    };
    repo.append_vault_log(&[line]).await.unwrap();
}

/// (visits, downloads) the report counts for records 0 and 1.
async fn counts(repo: &dyn Repository, doc: &DocumentRecord) -> [(i64, i64); 2] {
    let report = repo.view_report(&doc.id).await.unwrap();
    [0, 1].map(|record| {
        let visits = report.visits.iter().find(|v| v.record == record);
        let downloads = report.downloads.iter().find(|d| d.record == record);
        (
            visits.map_or(0, |v| v.opened),
            downloads.map_or(0, |d| d.complete + d.partial),
        )
    })
}

async fn retention_takes_views_and_downloads_with_their_lines(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let t0 = at(1_700_000_000_000);
    let s = |seconds| t0 + Duration::seconds(seconds);
    // Record 0 came early, record 1 late; each downloaded once.
    visit(&*repo, &doc, s(1), 0, "AAAAAAAAAAAAAAAAAAAAAA").await;
    download(&*repo, &doc, s(1), "AAAAAAAAAAAAAAAAAAAAAA").await;
    visit(&*repo, &doc, s(3), 1, "BBBBBBBBBBBBBBBBBBBBBB").await;
    download(&*repo, &doc, s(3), "BBBBBBBBBBBBBBBBBBBBBB").await;
    assert_eq!(counts(&*repo, &doc).await, [(1, 1), (1, 1)]);

    // The gateway log's retention takes the early visit only; the downloads stay with theirs.
    repo.purge_log_before(LogKind::Gateway, s(2)).await.unwrap();
    assert_eq!(counts(&*repo, &doc).await, [(0, 1), (1, 1)]);
    // The vault log's retention takes the early download.
    repo.purge_log_before(LogKind::Vault, s(2)).await.unwrap();
    assert_eq!(counts(&*repo, &doc).await, [(0, 0), (1, 1)]);
    // The API log's retention touches neither.
    repo.purge_log_before(LogKind::Api, s(10)).await.unwrap();
    assert_eq!(counts(&*repo, &doc).await, [(0, 0), (1, 1)]);
    let history = repo
        .record_history(RecordOf {
            document: &doc.id,
            record: 1,
        })
        .await
        .unwrap();
    assert_eq!((history.visits.len(), history.downloads.len()), (1, 1));
}

async fn a_deleted_document_leaves_no_attribution(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let other = stored_document(&*repo, "bob").await;
    let t = at(1_700_000_000_000);
    visit(&*repo, &doc, t, 0, "CCCCCCCCCCCCCCCCCCCCCC").await;
    download(&*repo, &doc, t, "CCCCCCCCCCCCCCCCCCCCCC").await;
    visit(&*repo, &other, t, 1, "DDDDDDDDDDDDDDDDDDDDDD").await;
    download(&*repo, &other, t, "DDDDDDDDDDDDDDDDDDDDDD").await;
    assert_eq!(counts(&*repo, &doc).await, [(1, 1), (0, 0)]);

    repo.delete_document(&doc.producer_id, &doc.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts(&*repo, &doc).await, [(0, 0), (0, 0)]);
    let history = repo
        .record_history(RecordOf {
            document: &doc.id,
            record: 0,
        })
        .await
        .unwrap();
    assert!(history.visits.is_empty() && history.downloads.is_empty());
    // Another document's rows stay.
    assert_eq!(counts(&*repo, &other).await, [(0, 0), (1, 1)]);
}
