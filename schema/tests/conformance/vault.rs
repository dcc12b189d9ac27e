//! What the vault service needs: viewer-side document lookup, key rotation, its access log.

use std::sync::Arc;

use chrono::Duration;
use schema::{ContentSignature, DocumentId, Download, Repository, VaultLogRecord};

use crate::fixtures::{at, now, pending_object, stored_document};

conformance!(
    document_by_id_ignores_the_producer,
    download_reads_document_object_and_signature_at_once,
    rotation_walks_and_swaps_wrapped_keys,
    vault_log_is_scoped_ordered_and_kept,
);

async fn document_by_id_ignores_the_producer(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    assert_eq!(repo.document_by_id(&doc.id).await.unwrap(), Some(doc));
    assert_eq!(
        repo.document_by_id(&DocumentId::random()).await.unwrap(),
        None
    );
}

async fn download_reads_document_object_and_signature_at_once(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let object = repo.object(&doc.object_key).await.unwrap();
    assert!(object.is_some());
    let unsigned = Download {
        document: doc.clone(),
        object: object.clone(),
        signature: None,
    };
    assert_eq!(repo.download(&doc.id).await.unwrap(), Some(unsigned));
    let signature = ContentSignature {
        sha256: format!("{:064x}", 7),
        signature: "keyId=\"k\", signature=\"s\"".to_owned(),
        signature_date: "Sun, 29 Nov 2026 23:00:00 GMT".to_owned(),
    };
    repo.sign_object(&doc.object_key, &signature).await.unwrap();
    let id = doc.id.clone();
    let signed = Download {
        document: doc,
        object,
        signature: Some(signature),
    };
    assert_eq!(repo.download(&id).await.unwrap(), Some(signed));
    assert_eq!(repo.download(&DocumentId::random()).await.unwrap(), None);
}

async fn rotation_walks_and_swaps_wrapped_keys(repo: Arc<dyn Repository>) {
    let mut objects = Vec::new();
    for _ in 0..5 {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        objects.push(object);
    }
    objects.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    assert_eq!(repo.kek_usage().await.unwrap(), vec![("kek-1".into(), 5)]);

    let first = repo.objects_not_under("kek-2", 2).await.unwrap();
    assert_eq!(first, objects[..2].to_vec(), "key order, limited");
    assert!(
        repo.rewrap_object(&first[0].key, "kek-1", "kek-2", &[9, 9])
            .await
            .unwrap()
    );
    // A second swap from the old id loses: the row already moved on.
    assert!(
        !repo
            .rewrap_object(&first[0].key, "kek-1", "kek-2", &[8, 8])
            .await
            .unwrap()
    );
    let rewrapped = repo.object(&first[0].key).await.unwrap().unwrap();
    assert_eq!(
        (rewrapped.kek_id.as_str(), &rewrapped.wrapped_dek[..]),
        ("kek-2", &[9u8, 9][..])
    );
    assert_eq!(
        repo.objects_not_under("kek-2", 10).await.unwrap(),
        objects[1..].to_vec()
    );
    assert_eq!(
        repo.kek_usage().await.unwrap(),
        vec![("kek-1".into(), 4), ("kek-2".into(), 1)]
    );
}

async fn vault_log_is_scoped_ordered_and_kept(repo: Arc<dyn Repository>) {
    let alice = stored_document(&*repo, "alice").await;
    let bob = stored_document(&*repo, "bob").await;
    let t0 = at(1_700_000_000_000);
    let record = |doc: Option<&schema::DocumentRecord>, offset: i64, text: &str| VaultLogRecord {
        producer_id: doc.map(|d| d.producer_id.clone()),
        document_id: doc.map(|d| d.id.clone()),
        time: t0 + Duration::seconds(offset),
        fields: text.to_owned(),
    };
    let records = vec![
        record(Some(&alice), 2, "a2\tx"),
        record(Some(&alice), 1, "a1\t-"),
        record(Some(&bob), 1, "b1"),
        record(None, 1, "junk"),
    ];
    repo.append_vault_log(&records).await.unwrap();
    repo.append_vault_log(&[]).await.unwrap();

    let all = repo
        .vault_log(&alice.producer_id, None, t0, t0 + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(
        all,
        records[..2].to_vec(),
        "write order, this producer only"
    );
    let bounded = repo
        .vault_log(
            &alice.producer_id,
            Some(&alice.id),
            t0,
            t0 + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(bounded, records[1..2].to_vec(), "both ends inclusive");

    // Deleting the document keeps its history.
    repo.delete_document(&alice.producer_id, &alice.id)
        .await
        .unwrap();
    let kept = repo
        .vault_log(
            &alice.producer_id,
            Some(&alice.id),
            t0,
            t0 + Duration::seconds(9),
        )
        .await
        .unwrap();
    assert_eq!(kept.len(), 2);
}
