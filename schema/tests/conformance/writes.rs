//! Conditional writes (compare-and-swap on `last_modified`) and the expiry query.

use std::sync::Arc;

use chrono::Duration;
use schema::{PlaceholderId, Repository};
use serde_json::json;

use crate::fixtures::{now, pending_object, stored_document};

conformance!(
    replace_document_swaps_when_unchanged,
    replace_document_refuses_a_stale_expectation,
    replace_document_can_point_at_new_content,
    delete_document_if_checks_the_expectation,
    expired_documents_lists_only_the_expired,
);

async fn replace_document_swaps_when_unchanged(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let mut next = doc.clone();
    next.name = "renamed".into();
    next.placeholder_id = PlaceholderId::random();
    next.metadata = Some(json!({"v": 2}));
    next.audience = None;
    next.last_modified = doc.last_modified + Duration::seconds(1);
    assert!(
        repo.replace_document(&next, doc.last_modified)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(next)
    );
}

async fn replace_document_refuses_a_stale_expectation(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let mut first = doc.clone();
    first.name = "first".into();
    first.last_modified = doc.last_modified + Duration::seconds(1);
    let mut second = doc.clone();
    second.name = "second".into();
    second.last_modified = doc.last_modified + Duration::seconds(1);
    assert!(
        repo.replace_document(&first, doc.last_modified)
            .await
            .unwrap()
    );
    assert!(
        !repo
            .replace_document(&second, doc.last_modified)
            .await
            .unwrap(),
        "exactly one wins"
    );
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap()
            .unwrap()
            .name,
        "first"
    );
    let mut other = first.clone();
    other.producer_id = schema::ProducerId::random();
    assert!(
        !repo
            .replace_document(&other, first.last_modified)
            .await
            .unwrap(),
        "scoped to the producer"
    );
}

async fn replace_document_can_point_at_new_content(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let mut next = doc.clone();
    next.object_key = object.key.clone();
    next.size = 99;
    next.last_modified = doc.last_modified + Duration::seconds(1);
    assert!(
        repo.replace_document(&next, doc.last_modified)
            .await
            .unwrap()
    );
    let orphans = repo
        .orphan_objects(now() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        orphans,
        vec![doc.object_key.clone()],
        "the old object is now unreferenced"
    );
}

async fn delete_document_if_checks_the_expectation(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let stale = doc.last_modified - Duration::seconds(5);
    assert_eq!(
        repo.delete_document_if(
            &schema::Tenant::live(doc.producer_id.clone()),
            &doc.id,
            stale
        )
        .await
        .unwrap(),
        None
    );
    assert!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap()
            .is_some()
    );
    let deleted = repo
        .delete_document_if(
            &schema::Tenant::live(doc.producer_id.clone()),
            &doc.id,
            doc.last_modified,
        )
        .await
        .unwrap();
    assert_eq!(deleted, Some(doc.clone()));
    assert!(
        repo.object(&doc.object_key).await.unwrap().is_none(),
        "with its data key"
    );
}

async fn expired_documents_lists_only_the_expired(repo: Arc<dyn Repository>) {
    let live = stored_document(&*repo, "alice").await;
    let dead = stored_document(&*repo, "bob").await;
    let mut expired = dead.clone();
    expired.expiration = now() - Duration::seconds(1);
    expired.last_modified = dead.last_modified + Duration::seconds(1);
    assert!(
        repo.replace_document(&expired, dead.last_modified)
            .await
            .unwrap()
    );
    let found = repo.expired_documents(now(), 10).await.unwrap();
    assert_eq!(found, vec![(dead.producer_id.clone(), dead.id.clone())]);
    assert!(live.expiration > now());
    assert!(repo.expired_documents(now(), 0).await.unwrap().is_empty());
}
