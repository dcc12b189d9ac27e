//! What only the SQLite implementation promises: the file's settings, and several processes
//! (here: several independent pools) sharing one file.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::Utc;
use schema::sqlite::SqliteRepository;
use schema::{ObjectKey, ObjectRecord, ObjectRepo, RepoError, Repository};

fn url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("nested-name.db").display())
}

#[tokio::test]
async fn creates_the_file_with_durable_settings() {
    let dir = tempfile::tempdir().unwrap();
    let repo = SqliteRepository::connect(&url(&dir)).await.unwrap();
    assert!(dir.path().join("nested-name.db").exists());

    let pool = repo.pool();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy_timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(busy_timeout, 5000);
}

#[tokio::test]
async fn sqlite_and_sqlite_slashes_urls_both_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slashes.db");
    schema::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let result = schema::connect("mysql://localhost/db").await;
    assert!(matches!(result, Err(RepoError::UnsupportedUrl(_))));
}

/// `sealpost producer add` writes while `sealpost up` runs: two pools on one file, migrating
/// and writing at the same time, must all succeed (the busy timeout waits out the other's lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_pools_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    // Create the file first: switching a brand-new file to WAL is the one step that cannot
    // wait for another connection's lock.
    SqliteRepository::connect(&url(&dir)).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url(&dir);
        tasks.push(tokio::spawn(async move {
            let repo: Arc<dyn Repository> = schema::connect(&url).await.unwrap();
            let mut keys = Vec::new();
            for _ in 0..25 {
                let object = ObjectRecord {
                    key: ObjectKey::random(),
                    kek_id: "kek".to_owned(),
                    wrapped_dek: vec![1; 40],
                    size: None,
                    sha1: None,
                    created_at: Utc::now(),
                };
                repo.insert_object(&object).await.unwrap();
                keys.push(object.key);
            }
            keys
        }));
    }
    let mut keys = Vec::new();
    for task in tasks {
        keys.extend(task.await.unwrap());
    }

    let repo = SqliteRepository::connect(&url(&dir)).await.unwrap();
    for key in &keys {
        assert!(repo.object_exists(key).await.unwrap());
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM objects")
        .fetch_one(repo.pool())
        .await
        .unwrap();
    assert_eq!(count, 100);
}
