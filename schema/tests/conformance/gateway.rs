//! What the gateway needs: the document by placeholder (without its audience), the audience
//! on its own, and the gateway access log with its per-document hit numbers.

use std::sync::Arc;

use chrono::Duration;
use schema::{
    DocumentId, DocumentRecord, GatewayLogLine, GatewayLogRecord, PlaceholderId, ProducerId,
    Repository, ViewerDocument,
};

use schema::objects::Typed;

use crate::fixtures::{at, document, now, pending_object, stored_document};

conformance!(
    viewer_document_by_current_placeholder,
    viewer_document_tells_whether_there_is_an_audience,
    document_audience_with_its_version,
    hit_numbers_count_per_document_across_calls,
    gateway_log_is_scoped_ordered_and_kept,
    concurrent_batches_get_gap_free_hit_numbers,
);

fn viewer_view(doc: &DocumentRecord) -> ViewerDocument {
    ViewerDocument {
        id: doc.id.clone(),
        producer_id: doc.producer_id.clone(),
        placeholder_id: doc.placeholder_id.clone(),
        object_key: doc.object_key.clone(),
        name: doc.name.clone(),
        media_type: doc.media_type.clone(),
        expiration: doc.expiration,
        has_audience: doc.audience.is_some(),
        challenge: doc.challenge.clone().map(Typed::into_value),
        landingpage: doc.landingpage.clone().map(Typed::into_value),
        last_modified: doc.last_modified,
        access_version: doc.access_version,
        environment: doc.environment,
    }
}

fn record(
    doc: Option<&DocumentRecord>,
    time: chrono::DateTime<chrono::Utc>,
    head: &str,
) -> GatewayLogRecord {
    GatewayLogRecord {
        producer_id: doc.map(|d| d.producer_id.clone()),
        document_id: doc.map(|d| d.id.clone()),
        time,
        head: head.to_owned(),
    }
}

async fn viewer_document_by_current_placeholder(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    assert_eq!(
        repo.viewer_document(&doc.placeholder_id).await.unwrap(),
        Some(viewer_view(&doc))
    );
    assert_eq!(
        repo.viewer_document(&PlaceholderId::random())
            .await
            .unwrap(),
        None
    );

    // A new placeholder replaces the old one: the old links lead nowhere.
    let replaced = DocumentRecord {
        placeholder_id: PlaceholderId::random(),
        last_modified: doc.last_modified + Duration::seconds(1),
        ..doc.clone()
    };
    assert!(
        repo.replace_document(&replaced, doc.last_modified)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.viewer_document(&doc.placeholder_id).await.unwrap(),
        None
    );
    assert_eq!(
        repo.viewer_document(&replaced.placeholder_id)
            .await
            .unwrap(),
        Some(viewer_view(&replaced))
    );
}

async fn viewer_document_tells_whether_there_is_an_audience(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let open = DocumentRecord {
        audience: None,
        challenge: None,
        landingpage: None,
        ..document(&doc.producer_id, &object.key)
    };
    repo.insert_document(&open).await.unwrap();

    let found = repo.viewer_document(&open.placeholder_id).await.unwrap();
    assert_eq!(found, Some(viewer_view(&open)));
    assert!(!found.unwrap().has_audience);
    assert!(
        repo.viewer_document(&doc.placeholder_id)
            .await
            .unwrap()
            .unwrap()
            .has_audience
    );
}

async fn document_audience_with_its_version(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    assert_eq!(
        repo.document_audience(&doc.id).await.unwrap(),
        Some((
            doc.audience.as_ref().map(|a| a.json().clone()),
            doc.last_modified
        ))
    );
    assert_eq!(
        repo.document_audience(&DocumentId::random()).await.unwrap(),
        None
    );

    let without = DocumentRecord {
        audience: None,
        last_modified: doc.last_modified + Duration::seconds(1),
        ..doc.clone()
    };
    assert!(
        repo.replace_document(&without, doc.last_modified)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.document_audience(&doc.id).await.unwrap(),
        Some((None, without.last_modified))
    );

    repo.delete_document(&doc.producer_id, &doc.id)
        .await
        .unwrap();
    assert_eq!(repo.document_audience(&doc.id).await.unwrap(), None);
}

async fn hit_numbers_count_per_document_across_calls(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t = at(1_700_000_000_000);
    // A request that named a producer's placeholder but no document still has no hit-number.
    let producer_only = GatewayLogRecord {
        producer_id: Some(a.producer_id.clone()),
        ..record(None, t, "p")
    };
    let first = repo
        .append_gateway_log(&[
            record(Some(&a), t, "a1"),
            record(Some(&b), t, "b1"),
            record(None, t, "junk"),
            producer_only,
            record(Some(&a), t, "a2"),
        ])
        .await
        .unwrap();
    assert_eq!(first, vec![Some(1), Some(1), None, None, Some(2)]);
    assert_eq!(repo.append_gateway_log(&[]).await.unwrap(), vec![]);
    let second = repo
        .append_gateway_log(&[
            record(Some(&b), t, "b2"),
            record(Some(&a), t, "a3"),
            record(Some(&a), t, "a4"),
        ])
        .await
        .unwrap();
    assert_eq!(second, vec![Some(2), Some(3), Some(4)]);

    let lines = repo.gateway_log(None, None, t, t).await.unwrap();
    let fields: Vec<&str> = lines.iter().map(|l| l.fields.as_str()).collect();
    let (pa, pb) = (a.producer_id.as_str(), b.producer_id.as_str());
    assert_eq!(
        fields,
        vec![
            format!("a1\t1\t{pa}"),
            format!("b1\t1\t{pb}"),
            "junk\t-\t-".to_owned(),
            format!("p\t-\t{pa}"),
            format!("a2\t2\t{pa}"),
            format!("b2\t2\t{pb}"),
            format!("a3\t3\t{pa}"),
            format!("a4\t4\t{pa}"),
        ]
    );
    let hits: Vec<Option<i64>> = lines.iter().map(|l| l.hit).collect();
    assert_eq!(
        hits,
        vec![
            Some(1),
            Some(1),
            None,
            None,
            Some(2),
            Some(2),
            Some(3),
            Some(4)
        ]
    );
}

async fn gateway_log_is_scoped_ordered_and_kept(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t0 = at(1_700_000_000_000);
    let s = |seconds| t0 + Duration::seconds(seconds);
    repo.append_gateway_log(&[
        record(Some(&a), s(2), "a-late"),
        record(Some(&a), s(1), "a-early"),
        record(Some(&b), s(1), "b"),
        record(None, s(1), "junk"),
        record(Some(&a), s(5), "a-outside"),
    ])
    .await
    .unwrap();
    let heads = |lines: Vec<GatewayLogLine>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| l.fields.split('\t').next().unwrap().to_owned())
            .collect()
    };

    let alice = repo
        .gateway_log(Some(&a.producer_id), None, t0, s(2))
        .await
        .unwrap();
    assert_eq!(alice[0].producer_id.as_ref(), Some(&a.producer_id));
    assert_eq!(alice[0].document_id.as_ref(), Some(&a.id));
    assert_eq!((alice[0].time, alice[0].hit), (s(2), Some(1)));
    assert_eq!(
        heads(alice),
        ["a-late", "a-early"],
        "write order, this producer"
    );
    assert_eq!(
        heads(
            repo.gateway_log(Some(&a.producer_id), Some(&a.id), s(1), s(1))
                .await
                .unwrap()
        ),
        ["a-early"],
        "both ends inclusive"
    );
    assert_eq!(
        heads(
            repo.gateway_log(Some(&a.producer_id), Some(&b.id), t0, s(9))
                .await
                .unwrap()
        ),
        Vec::<String>::new(),
        "another producer's document"
    );
    assert_eq!(
        heads(repo.gateway_log(None, None, s(1), s(2)).await.unwrap()),
        ["a-late", "a-early", "b", "junk"],
        "every line"
    );
    assert_eq!(
        heads(repo.gateway_log(None, Some(&b.id), t0, s(9)).await.unwrap()),
        ["b"]
    );
    assert!(
        repo.gateway_log(Some(&ProducerId::random()), None, t0, s(9))
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting the document keeps its history, and its hit numbers do not restart.
    repo.delete_document(&a.producer_id, &a.id).await.unwrap();
    let kept = repo
        .gateway_log(Some(&a.producer_id), Some(&a.id), t0, s(9))
        .await
        .unwrap();
    assert_eq!(heads(kept), ["a-late", "a-early", "a-outside"]);
    assert_eq!(
        repo.append_gateway_log(&[record(Some(&a), s(6), "a-after")])
            .await
            .unwrap(),
        vec![Some(4)]
    );
}

async fn concurrent_batches_get_gap_free_hit_numbers(repo: Arc<dyn Repository>) {
    let a = stored_document(&*repo, "alice").await;
    let b = stored_document(&*repo, "bob").await;
    let t = now();
    // Batches naming both documents in opposite orders: the counters must neither deadlock
    // nor hand out a number twice.
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let repo = repo.clone();
            let batch = if i % 2 == 0 {
                vec![
                    record(Some(&a), t, "a"),
                    record(Some(&b), t, "b"),
                    record(Some(&a), t, "a"),
                ]
            } else {
                vec![record(Some(&b), t, "b"), record(Some(&a), t, "a")]
            };
            tokio::spawn(async move { (batch.clone(), repo.append_gateway_log(&batch).await) })
        })
        .collect();
    let mut hits_a = Vec::new();
    let mut hits_b = Vec::new();
    for task in tasks {
        let (batch, hits) = task.await.unwrap();
        for (record, hit) in batch.iter().zip(hits.unwrap()) {
            if record.document_id.as_ref() == Some(&a.id) {
                hits_a.push(hit.unwrap());
            } else {
                hits_b.push(hit.unwrap());
            }
        }
    }
    hits_a.sort_unstable();
    hits_b.sort_unstable();
    assert_eq!(hits_a, (1..=18).collect::<Vec<i64>>());
    assert_eq!(hits_b, (1..=12).collect::<Vec<i64>>());
    let mut stored: Vec<i64> = repo
        .gateway_log(None, Some(&a.id), t, t)
        .await
        .unwrap()
        .iter()
        .map(|l| l.hit.unwrap())
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, hits_a);
}
