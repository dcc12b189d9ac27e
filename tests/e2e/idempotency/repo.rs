//! The repository's side of idempotency keys, on both databases: a reservation in progress is
//! refused to others until it is completed, released, or abandoned (not kept alive), and the
//! kept answer reads back whole (its body sealed at rest).

use chrono::{Duration, Utc};
use schema::Environment;
use schema::repo::idempotency::{IdempotencySlot, KeyReservation, Reserve, StoredResponse};

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(reservations_are_exclusive_until_completed_released_or_abandoned);

async fn reservations_are_exclusive_until_completed_released_or_abandoned(db: Db) {
    let app = TestApp::spawn(db).await;
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap().id;
    let slot = IdempotencySlot {
        producer: &producer,
        environment: Environment::Live,
        key: "repo-key",
    };
    let now = Utc::now();
    let reserve = |abandoned_before| Reserve {
        method: "POST",
        path: "/documents",
        now,
        expires_at: now + Duration::hours(24),
        abandoned_before,
    };
    let fresh = now - Duration::minutes(5);
    let reserved = |at| repo.reserve_idempotency_key(slot, reserve(at));
    assert_eq!(reserved(fresh).await.unwrap(), KeyReservation::Reserved);
    assert_eq!(reserved(fresh).await.unwrap(), KeyReservation::InProgress);
    // Released: free again.
    repo.release_idempotency_key(slot).await.unwrap();
    assert_eq!(reserved(fresh).await.unwrap(), KeyReservation::Reserved);
    // Not touched since before the cut-off: abandoned, taken over.
    let later = now + Duration::minutes(1);
    assert_eq!(reserved(later).await.unwrap(), KeyReservation::Reserved);
    // Touched after the cut-off: alive.
    repo.touch_idempotency_key(slot, later + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(reserved(later).await.unwrap(), KeyReservation::InProgress);
    let response = StoredResponse {
        status: 201,
        headers: vec![("content-location".into(), "http://api/documents/x".into())],
        body: br#"{"id":"x"}"#.to_vec(),
    };
    let expires = now + Duration::hours(24);
    repo.complete_idempotency_key(slot, "ab12", &response, expires)
        .await
        .unwrap();
    // Completed: neither abandoned nor released any more.
    repo.release_idempotency_key(slot).await.unwrap();
    let KeyReservation::Completed(done) = reserved(later).await.unwrap() else {
        panic!("not completed");
    };
    assert_eq!(
        (
            done.method.as_str(),
            done.path.as_str(),
            done.body_sha256.as_str()
        ),
        ("POST", "/documents", "ab12")
    );
    assert_eq!(done.response, response);
    // Sealed at rest: without the record keys the kept body does not open.
    let bare = schema::connect(&app.settings.database_url()).await.unwrap();
    let unsealed = bare.reserve_idempotency_key(slot, reserve(later)).await;
    assert!(
        matches!(unsealed, Err(schema::RepoError::RecordKeys(_))),
        "{unsealed:?}"
    );
    // Another environment's same key is another key.
    let test = IdempotencySlot {
        environment: Environment::Test,
        ..slot
    };
    let in_test = repo.reserve_idempotency_key(test, reserve(fresh)).await;
    assert_eq!(in_test.unwrap(), KeyReservation::Reserved);
    // Expired: pruned, and the key is new.
    assert_eq!(
        repo.prune_idempotency_keys(expires + Duration::seconds(1))
            .await
            .unwrap(),
        2
    );
    assert_eq!(reserved(fresh).await.unwrap(), KeyReservation::Reserved);
}
