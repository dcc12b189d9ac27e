//! Viewer data and secrets sealed at rest (issue 14, finding 8; `schema::cipher`): a sealed
//! value moved to another document's row does not open, a rotation keeps old rows readable and
//! reseals them under the new key, and rows written before encryption read and get sealed.

use std::sync::Arc;

use schema::RepoError;
use schema::cipher::{RecordCipher, RecordKeys};

use crate::fixtures;

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
                super::$name(&url).await;
            }

            #[tokio::test]
            async fn postgres() {
                let database = schema::testing::TestDatabase::create().await;
                super::$name(database.url()).await;
            }
        }
    )*};
}

on_both!(
    a_sealed_value_moved_to_another_row_does_not_open,
    rotation_keeps_old_rows_readable_and_reseals_them,
    legacy_plaintext_rows_read_and_get_sealed,
    a_stored_object_that_no_longer_parses_is_corrupt,
);

fn cipher(current: &str, ids: &[(&str, u8)]) -> Option<Arc<RecordCipher>> {
    let keys: Vec<(String, Vec<u8>)> = ids
        .iter()
        .map(|(id, byte)| ((*id).to_owned(), vec![*byte; 32]))
        .collect();
    Some(Arc::new(RecordCipher::new(
        RecordKeys::new(current, &keys).unwrap(),
    )))
}

/// Runs one statement outside the repository (what someone with the database file can do).
async fn raw(url: &str, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// One stored column as text.
async fn stored(url: &str, column: &str, id: &str) -> Option<String> {
    use sqlx::Row as _;
    let sql = format!("SELECT {column} FROM documents WHERE id = '{id}'");
    let sql = sqlx::AssertSqlSafe(sql);
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let row = sqlx::query(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        row.get(0)
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let row = sqlx::query(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        row.get(0)
    }
}

async fn a_sealed_value_moved_to_another_row_does_not_open(url: &str) {
    let repo = schema::connect_with_records(url, cipher("k1", &[("k1", 1)]))
        .await
        .unwrap();
    let a = fixtures::stored_document(&*repo, "alice").await;
    let b = fixtures::stored_document(&*repo, "bob").await;
    for column in ["audience", "challenge", "fulfillment", "metadata"] {
        let text = stored(url, column, a.id.as_str()).await.unwrap();
        assert!(text.starts_with("sp1:k1:"), "{column}: {text}");
    }
    // Both read back as written.
    assert_eq!(
        repo.document(&schema::Tenant::live(a.producer_id.clone()), &a.id)
            .await
            .unwrap(),
        Some(a.clone())
    );
    // A's sealed audience copied onto B's row: B no longer reads (never A's audience).
    raw(
        url,
        &format!(
            "UPDATE documents SET audience = (SELECT audience FROM documents WHERE id = '{}') \
             WHERE id = '{}'",
            a.id, b.id
        ),
    )
    .await;
    let moved = repo
        .document(&schema::Tenant::live(b.producer_id.clone()), &b.id)
        .await;
    assert!(matches!(moved, Err(RepoError::Corrupt(_))), "{moved:?}");
    assert!(matches!(
        repo.document_audience(&b.id).await,
        Err(RepoError::Corrupt(_))
    ));
    // Nor into another column of the same row.
    raw(
        url,
        &format!(
            "UPDATE documents SET challenge = metadata WHERE id = '{}'",
            a.id
        ),
    )
    .await;
    assert!(matches!(
        repo.viewer_document(&a.placeholder_id).await,
        Err(RepoError::Corrupt(_))
    ));
    // A repository without keys (the vault) reads the sealed columns as absent, the rest as is.
    let keyless = schema::connect(url).await.unwrap();
    let seen = keyless.document_by_id(&a.id).await.unwrap().unwrap();
    assert_eq!((seen.audience, seen.metadata), (None, None));
    assert_eq!(seen.object_key, a.object_key);
}

async fn rotation_keeps_old_rows_readable_and_reseals_them(url: &str) {
    let old = schema::connect_with_records(url, cipher("k1", &[("k1", 1)]))
        .await
        .unwrap();
    let doc = fixtures::stored_document(&*old, "alice").await;
    let rotated = schema::connect_with_records(url, cipher("k2", &[("k1", 1), ("k2", 2)]))
        .await
        .unwrap();
    // Old rows still read under the new key set.
    assert_eq!(
        rotated
            .document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc.clone())
    );
    // New writes use the new key.
    let fresh = fixtures::stored_document(&*rotated, "bob").await;
    let text = stored(url, "audience", fresh.id.as_str()).await.unwrap();
    assert!(text.starts_with("sp1:k2:"), "{text}");
    // Resealing moves the old row's four values, and only those, to the new key.
    assert_eq!(rotated.reseal_records().await.unwrap(), 4);
    assert_eq!(rotated.reseal_records().await.unwrap(), 0);
    for column in ["audience", "challenge", "fulfillment", "metadata"] {
        let text = stored(url, column, doc.id.as_str()).await.unwrap();
        assert!(text.starts_with("sp1:k2:"), "{column}: {text}");
    }
    // Once resealed, the old key is no longer needed.
    let new_only = schema::connect_with_records(url, cipher("k2", &[("k2", 2)]))
        .await
        .unwrap();
    assert_eq!(
        new_only
            .document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc)
    );
    assert_eq!(
        new_only
            .document(&schema::Tenant::live(fresh.producer_id.clone()), &fresh.id)
            .await
            .unwrap(),
        Some(fresh)
    );
    // A repository without keys cannot reseal.
    let keyless = schema::connect(url).await.unwrap();
    assert!(matches!(
        keyless.reseal_records().await,
        Err(RepoError::RecordKeys(_))
    ));
}

async fn legacy_plaintext_rows_read_and_get_sealed(url: &str) {
    // Written as before encryption existed: plain JSON text.
    let legacy = schema::connect(url).await.unwrap();
    let doc = fixtures::stored_document(&*legacy, "alice").await;
    let text = stored(url, "audience", doc.id.as_str()).await.unwrap();
    assert!(text.starts_with('{'), "{text}");
    let keyed = schema::connect_with_records(url, cipher("k1", &[("k1", 1)]))
        .await
        .unwrap();
    assert_eq!(
        keyed
            .document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert_eq!(keyed.reseal_records().await.unwrap(), 4);
    let text = stored(url, "audience", doc.id.as_str()).await.unwrap();
    assert!(text.starts_with("sp1:k1:"), "{text}");
    assert_eq!(
        keyed
            .document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc)
    );
}

/// The spec objects are parsed when the row is read: a stored one that does not parse (written
/// by hand, or before a rule existed) is a clear [`RepoError::Corrupt`] naming the column, on
/// every read, never a half-valid record.
async fn a_stored_object_that_no_longer_parses_is_corrupt(url: &str) {
    let repo = schema::connect_with_records(url, cipher("k1", &[("k1", 1)]))
        .await
        .unwrap();
    let page = fixtures::stored_document(&*repo, "alice").await;
    let challenge = fixtures::stored_document(&*repo, "bob").await;
    // A plain column, and a sealed one holding legacy plaintext (which reads as it is).
    let broken = [
        (
            &page,
            "landingpage",
            r#"{"type": "frame", "href": "https://x.example/"}"#,
        ),
        (&challenge, "challenge", r#"{"type": "field"}"#),
    ];
    for (doc, column, text) in broken {
        raw(
            url,
            &format!(
                "UPDATE documents SET {column} = '{text}' WHERE id = '{}'",
                doc.id
            ),
        )
        .await;
        let read = repo
            .document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await;
        assert!(
            matches!(&read, Err(RepoError::Corrupt(what)) if what.starts_with(column)),
            "{read:?}"
        );
        let viewed = repo.viewer_document(&doc.placeholder_id).await;
        assert!(
            matches!(&viewed, Err(RepoError::Corrupt(what)) if what.starts_with(column)),
            "{viewed:?}"
        );
    }
}
