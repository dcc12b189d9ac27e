//! Vault objects: pending, finished, deleted, and the orphan sweep's query.

use std::sync::Arc;

use chrono::Duration;
use schema::repo::UniqueKey;
use schema::{ContentSignature, ObjectKey, ObjectRecord, RepoError, Repository};

use crate::fixtures::{assert_conflict, document, now, pending_object, producer};

conformance!(
    object_lifecycle,
    finish_unknown_object_is_row_not_found,
    orphan_objects_are_old_and_unreferenced,
    content_signatures_replace_and_go_with_the_object,
    multipart_upload_ids_are_recorded_until_the_object_finishes,
);

/// Issue 19: an S3 upload's id stays in the row while the upload runs (the sweep aborts it by
/// that id should the vault die), and is forgotten once the object finished.
async fn multipart_upload_ids_are_recorded_until_the_object_finishes(repo: Arc<dyn Repository>) {
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    assert_eq!(repo.object_upload(&object.key).await.unwrap(), None);
    repo.record_upload(&object.key, "upload-1").await.unwrap();
    assert_eq!(
        repo.object_upload(&object.key).await.unwrap().as_deref(),
        Some("upload-1")
    );
    let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
    repo.finish_object(&object.key, 3, sha1).await.unwrap();
    assert_eq!(repo.object_upload(&object.key).await.unwrap(), None);

    let unknown = ObjectKey::random();
    assert!(repo.record_upload(&unknown, "upload-2").await.is_err());
    assert_eq!(repo.object_upload(&unknown).await.unwrap(), None);
}

async fn object_lifecycle(repo: Arc<dyn Repository>) {
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    assert_conflict(repo.insert_object(&object).await, UniqueKey::ObjectKey);
    assert!(repo.object_exists(&object.key).await.unwrap());
    assert_eq!(
        repo.object(&object.key).await.unwrap(),
        Some(object.clone())
    );

    let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
    repo.finish_object(&object.key, 3, sha1).await.unwrap();
    let finished = ObjectRecord {
        size: Some(3),
        sha1: Some(sha1.to_owned()),
        ..object.clone()
    };
    assert_eq!(repo.object(&object.key).await.unwrap(), Some(finished));

    assert!(repo.delete_object(&object.key).await.unwrap());
    assert_eq!(repo.object(&object.key).await.unwrap(), None);
    assert!(!repo.object_exists(&object.key).await.unwrap());
    assert!(!repo.delete_object(&object.key).await.unwrap());

    let unknown = ObjectKey::random();
    assert_eq!(repo.object(&unknown).await.unwrap(), None);
    assert!(!repo.object_exists(&unknown).await.unwrap());
}

async fn finish_unknown_object_is_row_not_found(repo: Arc<dyn Repository>) {
    let result = repo.finish_object(&ObjectKey::random(), 1, "00").await;
    assert!(
        matches!(result, Err(RepoError::Database(sqlx::Error::RowNotFound))),
        "{result:?}"
    );
}

async fn orphan_objects_are_old_and_unreferenced(repo: Arc<dyn Repository>) {
    let t = now();
    let old_orphan = pending_object(t - Duration::hours(2));
    let new_orphan = pending_object(t);
    let old_referenced = pending_object(t - Duration::hours(2));
    for object in [&old_orphan, &new_orphan, &old_referenced] {
        repo.insert_object(object).await.unwrap();
    }
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_document(&document(&alice.id, &old_referenced.key))
        .await
        .unwrap();

    let cutoff = t - Duration::hours(1);
    assert_eq!(
        repo.orphan_objects(cutoff).await.unwrap(),
        vec![old_orphan.key.clone()]
    );
    // Strictly before: an object created at the cutoff itself is not yet an orphan.
    assert_eq!(
        repo.orphan_objects(old_orphan.created_at).await.unwrap(),
        vec![]
    );

    let mut all = repo.orphan_objects(t + Duration::seconds(1)).await.unwrap();
    all.sort();
    let mut expected = vec![old_orphan.key, new_orphan.key];
    expected.sort();
    assert_eq!(all, expected);
}

async fn content_signatures_replace_and_go_with_the_object(repo: Arc<dyn Repository>) {
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    assert_eq!(repo.object_signature(&object.key).await.unwrap(), None);
    let signed = |n: u8| ContentSignature {
        sha256: format!("{n:064x}"),
        signature: format!("keyId=\"k\", signature=\"s{n}\""),
        signature_date: "Sun, 29 Nov 2026 23:00:00 GMT".to_owned(),
    };
    repo.sign_object(&object.key, &signed(1)).await.unwrap();
    assert_eq!(
        repo.object_signature(&object.key).await.unwrap(),
        Some(signed(1))
    );
    repo.sign_object(&object.key, &signed(2)).await.unwrap();
    assert_eq!(
        repo.object_signature(&object.key).await.unwrap(),
        Some(signed(2))
    );
    // Crypto-shredding the object removes its signature too.
    assert!(repo.delete_object(&object.key).await.unwrap());
    assert_eq!(repo.object_signature(&object.key).await.unwrap(), None);
    // No signature for an object that does not exist.
    assert!(
        repo.sign_object(&ObjectKey::random(), &signed(3))
            .await
            .is_err()
    );
}
