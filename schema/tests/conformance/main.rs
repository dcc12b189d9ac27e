//! One suite, every database: each test in these modules takes an `Arc<dyn Repository>` and
//! `conformance!` runs it against a fresh SQLite file and a fresh PostgreSQL database, so a
//! dialect difference fails a test here rather than surprising a user.
//!
//! PostgreSQL comes from `SEALPOST_TEST_POSTGRES_URL` (see `schema::testing`); without it the
//! PostgreSQL variants fail, on purpose: a suite that skips itself cannot fail.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use schema::Repository;

/// Runs each named test (an `async fn(Arc<dyn Repository>)` of the invoking module) against
/// both databases, as `name::sqlite` and `name::postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (repo, _dir) = crate::sqlite().await;
                super::$name(repo).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (repo, _database) = crate::postgres().await;
                super::$name(repo).await;
            }
        }
    )*};
}

mod allowlist;
mod api_keys;
mod deliveries;
mod documents;
mod environments;
mod fixtures;
mod gateway;
mod lockout;
mod logs;
mod oauth;
mod objects;
mod producer_keys;
mod producers;
mod records;
mod reservations;
mod sessions;
mod upgrade;
mod vault;
mod views;
mod writes;

conformance!(migrate_twice_is_fine);

// --- databases ---

async fn sqlite() -> (Arc<dyn Repository>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
    (
        schema::connect_with_records(&url, Some(record_cipher()))
            .await
            .unwrap(),
        dir,
    )
}

/// The record keys every conformance repository seals viewer data with, so the whole suite
/// runs through the sealed columns ([`schema::cipher`]).
fn record_cipher() -> Arc<schema::cipher::RecordCipher> {
    let keys = schema::cipher::RecordKeys::new("test", &[("test".to_owned(), vec![7; 32])]);
    Arc::new(schema::cipher::RecordCipher::new(keys.unwrap()))
}

/// The database is dropped with the guard, so the caller keeps it until the test ends.
async fn postgres() -> (Arc<dyn Repository>, schema::testing::TestDatabase) {
    let database = schema::testing::TestDatabase::create().await;
    let repo = schema::connect_with_records(database.url(), Some(record_cipher()))
        .await
        .unwrap();
    (repo, database)
}

async fn migrate_twice_is_fine(repo: Arc<dyn Repository>) {
    // `connect` already migrated once.
    let doc = fixtures::stored_document(&*repo, "alice").await;
    repo.migrate().await.unwrap();
    repo.migrate().await.unwrap();
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc)
    );
}
