//! Live and test documents (migration 0015): every producer-API read is scoped to a
//! [`Tenant`], log exports split a producer's lines by environment (deleted test documents'
//! lines stay test lines), and a test delivery's captured messages are kept and wiped with
//! the document.

use std::sync::Arc;

use chrono::Duration;
use futures_util::TryStreamExt as _;
use schema::repo::delivery::{NewDelivery, NewRecipient};
use schema::{DocumentRecord, Environment, LogKind, Repository, Tenant};
use serde_json::json;

use crate::fixtures::{document, now, pending_object, producer};
use crate::logs::{append, entry};

conformance!(
    reads_are_scoped_to_the_environment,
    exports_split_lines_by_environment,
    captured_messages_are_kept_and_wiped_with_the_document,
);

/// A live and a test document of one new producer, both inserted.
async fn live_and_test(repo: &dyn Repository) -> (DocumentRecord, DocumentRecord) {
    let owner = producer("envs");
    repo.insert_producer(&owner).await.unwrap();
    let mut docs = Vec::new();
    for environment in [Environment::Live, Environment::Test] {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        let doc = DocumentRecord {
            environment,
            ..document(&owner.id, &object.key)
        };
        repo.insert_document(&doc).await.unwrap();
        docs.push(doc);
    }
    let test = docs.pop().unwrap();
    (docs.pop().unwrap(), test)
}

fn tenant(doc: &DocumentRecord) -> Tenant {
    Tenant::new(doc.producer_id.clone(), doc.environment)
}

async fn reads_are_scoped_to_the_environment(repo: Arc<dyn Repository>) {
    let (live, test) = live_and_test(&*repo).await;
    for (mine, other) in [(&live, &test), (&test, &live)] {
        let back = repo.document(&tenant(mine), &mine.id).await.unwrap();
        assert_eq!(back.as_ref(), Some(mine));
        assert_eq!(repo.document(&tenant(mine), &other.id).await.unwrap(), None);
        let listed = repo.list_documents(&tenant(mine), None, 10).await.unwrap();
        assert_eq!(listed, [(mine.id.clone(), mine.name.clone())]);
        let mine = tenant(mine);
        let refused = repo.delete_document_if(&mine, &other.id, other.last_modified);
        assert_eq!(refused.await.unwrap(), None);
    }
    // The expiry sweep deletes either.
    let swept = repo
        .delete_document(&test.producer_id, &test.id)
        .await
        .unwrap();
    assert_eq!(swept.map(|doc| doc.environment), Some(Environment::Test));
}

async fn exports_split_lines_by_environment(repo: Arc<dyn Repository>) {
    let (live, test) = live_and_test(&*repo).await;
    let t0 = now();
    let mut none = entry(Some(&live), t0, "no document");
    none.document = None;
    let entries = [
        entry(Some(&live), t0, "live line"),
        entry(Some(&test), t0, "test line"),
        none,
    ];
    for kind in LogKind::ALL {
        append(&*repo, kind, &entries).await;
    }
    // A deleted test document's lines stay test lines.
    repo.delete_document(&test.producer_id, &test.id)
        .await
        .unwrap();
    let (from, to) = (t0 - Duration::hours(1), t0 + Duration::hours(1));
    for kind in LogKind::ALL {
        let lines = |doc: &DocumentRecord| {
            let (repo, tenant) = (repo.clone(), tenant(doc));
            async move {
                let lines = repo.export_log(kind, &tenant, None, from, to);
                let lines: Vec<schema::LogLine> = lines.try_collect().await.unwrap();
                (lines.into_iter())
                    .map(|line| line.fields.contains("test line"))
                    .collect::<Vec<_>>()
            }
        };
        // Live: its document's line and the line naming none; test: its document's only.
        assert_eq!(lines(&live).await, [false, false], "{kind:?}");
        assert_eq!(lines(&test).await, [true], "{kind:?}");
    }
}

async fn captured_messages_are_kept_and_wiped_with_the_document(repo: Arc<dyn Repository>) {
    let (_, test) = live_and_test(&*repo).await;
    let delivery = NewDelivery {
        id: schema::DocumentId::random(),
        producer_id: test.producer_id.clone(),
        document_id: test.id.clone(),
        operator: None,
        fulfillment: json!({"type": "http", "href": "https://x.example/"}),
        secrets: None,
        created_at: now(),
        environment: Environment::Test,
    };
    let recipient = NewRecipient {
        record: None,
        idempotency_key: "k.0".into(),
        viewer: json!({"fields": {}, "token": []}),
    };
    repo.insert_delivery(&delivery, &[recipient]).await.unwrap();
    let claimed = repo
        .claim_delivery_jobs(now(), now() + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed[0].environment, Environment::Test);
    repo.capture_delivery_job(&delivery.id, 0, &[1, 2, 3])
        .await
        .unwrap();
    let status = || repo.delivery(&test.producer_id, &test.id, &delivery.id);
    let kept = status().await.unwrap().unwrap();
    assert_eq!(
        kept.recipients[0].captured.as_deref(),
        Some(&[1u8, 2, 3][..])
    );
    repo.delete_document(&test.producer_id, &test.id)
        .await
        .unwrap();
    let wiped = status().await.unwrap().unwrap();
    assert_eq!(wiped.recipients[0].captured, None);
}
