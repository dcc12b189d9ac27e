//! One suite, every database: each test below takes an `Arc<dyn Repository>` and
//! `conformance!` runs it against a fresh SQLite file and a fresh PostgreSQL database, so a
//! dialect difference fails a test here rather than surprising a user.
//!
//! PostgreSQL comes from `SEALPOST_TEST_POSTGRES_URL` (see `schema::testing`); without it the
//! PostgreSQL variants fail, on purpose: a suite that skips itself cannot fail.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::{
    DocumentId, DocumentRecord, LoginSession, ObjectKey, ObjectRecord, PlaceholderId, Producer,
    ProducerId, RepoError, Repository,
};
use serde_json::json;

/// Runs each named test against both databases: `name::sqlite` and `name::postgres`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (repo, _dir) = super::sqlite().await;
                super::$name(repo).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(super::postgres().await).await;
            }
        }
    )*};
}

conformance!(
    migrate_twice_is_fine,
    producer_round_trip_and_lookups,
    duplicate_producer_name_conflicts,
    duplicate_public_key_conflicts,
    session_is_active_until_revoked,
    expired_session_is_not_active,
    revoke_unknown_session_is_false,
    object_lifecycle,
    finish_unknown_object_is_row_not_found,
    orphan_objects_are_old_and_unreferenced,
    document_round_trip,
    json_columns_round_trip_including_none,
    timestamps_round_trip_at_millisecond_precision,
    other_producer_cannot_see_document,
    list_documents_pages_in_id_order,
    delete_document_removes_record_and_object,
    delete_of_other_producers_document_deletes_nothing,
    duplicate_document_keys_conflict,
    document_needs_existing_producer_and_object,
);

// --- databases ---

async fn sqlite() -> (Arc<dyn Repository>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
    (schema::connect(&url).await.unwrap(), dir)
}

async fn postgres() -> Arc<dyn Repository> {
    let url = schema::testing::fresh_postgres_url(&schema::testing::postgres_base_url()).await;
    schema::connect(&url).await.unwrap()
}

/// Paging must follow byte order even where the server's locale sorts text otherwise
/// (`_A -A 0A aA BA ZA` under ICU `en-US`), so PostgreSQL agrees with SQLite everywhere.
#[tokio::test]
async fn list_documents_pages_in_id_order_under_a_locale() {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    let base = schema::testing::postgres_base_url();
    let name = format!("sp_icu_{}", DocumentId::random().as_str().to_lowercase().replace(['-', '_'], "x"));
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    conn.execute(AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    )))
    .await
    .unwrap();
    conn.close().await.unwrap();
    let (server, _) = base.split_once('?').map_or(base.as_str(), |(url, _)| url).rsplit_once('/').unwrap();
    list_documents_pages_in_id_order(schema::connect(&format!("{server}/{name}")).await.unwrap()).await;
}

// --- fixtures ---

/// Now, at the precision the databases keep.
fn now() -> DateTime<Utc> {
    at(Utc::now().timestamp_millis())
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn producer(name: &str) -> Producer {
    Producer {
        id: ProducerId::random(),
        name: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        // Unique per call; the repository does not care that it is not a real Ed25519 key.
        public_key: ObjectKey::random().as_str().as_bytes()[..16].repeat(2),
        created_at: now(),
    }
}

fn pending_object(created_at: DateTime<Utc>) -> ObjectRecord {
    ObjectRecord {
        key: ObjectKey::random(),
        kek_id: "kek-1".to_owned(),
        wrapped_dek: vec![0, 1, 2, 254, 255],
        size: None,
        sha1: None,
        created_at,
    }
}

fn document(producer: &ProducerId, object: &ObjectKey) -> DocumentRecord {
    DocumentRecord {
        id: DocumentId::random(),
        producer_id: producer.clone(),
        placeholder_id: PlaceholderId::random(),
        name: "report – Q3 ✓.pdf".to_owned(),
        media_type: "application/pdf".to_owned(),
        object_key: object.clone(),
        size: 1234,
        hash_algorithm: "SHA-1".to_owned(),
        hash_value: "da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned(),
        expiration: now() + Duration::days(365),
        audience: Some(json!({"records": [{"email_address": "zoë@example.com"}]})),
        challenge: Some(json!({"type": "field", "data": {"field": "telephone"}})),
        fulfillment: Some(json!({"type": "http", "href": "https://x.example/{?link}", "batch": false})),
        landingpage: Some(json!({"href": "https://landing.example/"})),
        metadata: Some(json!({"n": 1.5, "nested": [null, true, "tab\there"]})),
        created_at: now(),
        last_modified: now(),
    }
}

/// A producer, an object and a document of theirs, all inserted.
async fn stored_document(repo: &dyn Repository, name: &str) -> DocumentRecord {
    let owner = producer(name);
    repo.insert_producer(&owner).await.unwrap();
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let doc = document(&owner.id, &object.key);
    repo.insert_document(&doc).await.unwrap();
    doc
}

fn assert_conflict(result: Result<(), RepoError>) {
    assert!(matches!(result, Err(RepoError::Conflict(_))), "{result:?}");
}

// --- the suite ---

async fn migrate_twice_is_fine(repo: Arc<dyn Repository>) {
    // `connect` already migrated once.
    let doc = stored_document(&*repo, "alice").await;
    repo.migrate().await.unwrap();
    repo.migrate().await.unwrap();
    assert_eq!(repo.document(&doc.producer_id, &doc.id).await.unwrap(), Some(doc));
}

async fn producer_round_trip_and_lookups(repo: Arc<dyn Repository>) {
    assert_eq!(repo.count_producers().await.unwrap(), 0);
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let bob = Producer { email: None, ..producer("bob") };
    repo.insert_producer(&bob).await.unwrap();

    assert_eq!(repo.producer_by_public_key(&alice.public_key).await.unwrap(), Some(alice.clone()));
    assert_eq!(repo.producer_by_name("alice").await.unwrap(), Some(alice));
    assert_eq!(repo.producer_by_name("bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(repo.producer_by_public_key(&bob.public_key).await.unwrap(), Some(bob));
    assert_eq!(repo.producer_by_name("carol").await.unwrap(), None);
    assert_eq!(repo.producer_by_name("Alice").await.unwrap(), None);
    assert_eq!(repo.producer_by_public_key(&[7; 32]).await.unwrap(), None);
    assert_eq!(repo.count_producers().await.unwrap(), 2);
}

async fn duplicate_producer_name_conflicts(repo: Arc<dyn Repository>) {
    repo.insert_producer(&producer("alice")).await.unwrap();
    assert_conflict(repo.insert_producer(&producer("alice")).await);
    assert_eq!(repo.count_producers().await.unwrap(), 1);
}

async fn duplicate_public_key_conflicts(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let mallory = Producer { public_key: alice.public_key.clone(), ..producer("mallory") };
    assert_conflict(repo.insert_producer(&mallory).await);
    // The same id again is a conflict too.
    let twin = Producer { id: alice.id.clone(), ..producer("twin") };
    assert_conflict(repo.insert_producer(&twin).await);
    assert_eq!(repo.count_producers().await.unwrap(), 1);
}

fn session(producer: &ProducerId, issued_at: DateTime<Utc>, ttl: Duration) -> LoginSession {
    LoginSession {
        jti: DocumentId::random().to_string(),
        producer_id: producer.clone(),
        email: "operator@example.com".to_owned(),
        issued_at,
        expires_at: issued_at + ttl,
        revoked_at: None,
    }
}

async fn session_is_active_until_revoked(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let t = now();
    let login = session(&alice.id, t, Duration::hours(1));
    repo.insert_session(&login).await.unwrap();
    assert_conflict(repo.insert_session(&login).await);

    assert_eq!(repo.active_session(&login.jti, t).await.unwrap(), Some(login.clone()));
    assert!(repo.revoke_session(&login.jti, t + Duration::minutes(1)).await.unwrap());
    assert_eq!(repo.active_session(&login.jti, t + Duration::minutes(2)).await.unwrap(), None);
    assert!(!repo.revoke_session(&login.jti, t + Duration::minutes(3)).await.unwrap());
}

async fn expired_session_is_not_active(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let t = now();
    let login = session(&alice.id, t, Duration::hours(1));
    repo.insert_session(&login).await.unwrap();

    let last_moment = login.expires_at - Duration::milliseconds(1);
    assert!(repo.active_session(&login.jti, last_moment).await.unwrap().is_some());
    assert_eq!(repo.active_session(&login.jti, login.expires_at).await.unwrap(), None);
    assert_eq!(repo.active_session(&login.jti, t + Duration::days(1)).await.unwrap(), None);
    // An expired session is not active, so there is nothing to revoke.
    assert!(!repo.revoke_session(&login.jti, login.expires_at).await.unwrap());

    // A session stored already revoked reads back with its revocation time and is not active.
    let revoked = LoginSession { revoked_at: Some(t), ..session(&alice.id, t, Duration::hours(1)) };
    repo.insert_session(&revoked).await.unwrap();
    assert_eq!(repo.active_session(&revoked.jti, t).await.unwrap(), None);
}

async fn revoke_unknown_session_is_false(repo: Arc<dyn Repository>) {
    assert!(!repo.revoke_session("no-such-jti", now()).await.unwrap());
    assert_eq!(repo.active_session("no-such-jti", now()).await.unwrap(), None);
}

async fn object_lifecycle(repo: Arc<dyn Repository>) {
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    assert_conflict(repo.insert_object(&object).await);
    assert!(repo.object_exists(&object.key).await.unwrap());
    assert_eq!(repo.object(&object.key).await.unwrap(), Some(object.clone()));

    let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
    repo.finish_object(&object.key, 3, sha1).await.unwrap();
    let finished = ObjectRecord { size: Some(3), sha1: Some(sha1.to_owned()), ..object.clone() };
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
    assert!(matches!(result, Err(RepoError::Database(sqlx::Error::RowNotFound))), "{result:?}");
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
    repo.insert_document(&document(&alice.id, &old_referenced.key)).await.unwrap();

    let cutoff = t - Duration::hours(1);
    assert_eq!(repo.orphan_objects(cutoff).await.unwrap(), vec![old_orphan.key.clone()]);
    // Strictly before: an object created at the cutoff itself is not yet an orphan.
    assert_eq!(repo.orphan_objects(old_orphan.created_at).await.unwrap(), vec![]);

    let mut all = repo.orphan_objects(t + Duration::seconds(1)).await.unwrap();
    all.sort();
    let mut expected = vec![old_orphan.key, new_orphan.key];
    expected.sort();
    assert_eq!(all, expected);
}

async fn document_round_trip(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    assert_eq!(repo.document(&doc.producer_id, &doc.id).await.unwrap(), Some(doc.clone()));
    assert_eq!(repo.document(&doc.producer_id, &DocumentId::random()).await.unwrap(), None);
}

async fn json_columns_round_trip_including_none(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let values = [
        None,
        Some(json!(null)),
        Some(json!({})),
        Some(json!([])),
        Some(json!("a string with 'quotes' and \"doubles\"")),
        Some(json!({"unicode": "Zoë 🦀", "deep": {"a": [1, 2, {"b": -3}]}, "big": 9_007_199_254_740_993_i64})),
    ];
    for value in values {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        let doc = DocumentRecord {
            audience: value.clone(),
            challenge: value.clone(),
            fulfillment: value.clone(),
            landingpage: value.clone(),
            metadata: value.clone(),
            ..document(&alice.id, &object.key)
        };
        repo.insert_document(&doc).await.unwrap();
        assert_eq!(repo.document(&alice.id, &doc.id).await.unwrap(), Some(doc), "{value:?}");
    }
}

async fn timestamps_round_trip_at_millisecond_precision(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let object = pending_object(at(-1)); // just before the epoch
    repo.insert_object(&object).await.unwrap();
    assert_eq!(repo.object(&object.key).await.unwrap().unwrap().created_at, at(-1));

    let precise = at(1_700_000_000_123) + Duration::nanoseconds(456_789);
    let doc = DocumentRecord {
        created_at: precise,
        last_modified: at(1_700_000_000_999),
        expiration: at(253_402_300_799_999), // 9999-12-31T23:59:59.999Z
        ..document(&alice.id, &object.key)
    };
    repo.insert_document(&doc).await.unwrap();
    let back = repo.document(&alice.id, &doc.id).await.unwrap().unwrap();
    // Sub-millisecond precision is dropped, never rounded up.
    assert_eq!(back.created_at, at(1_700_000_000_123));
    assert_eq!(back.last_modified, at(1_700_000_000_999));
    assert_eq!(back.expiration, at(253_402_300_799_999));
}

async fn other_producer_cannot_see_document(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let bob = producer("bob");
    repo.insert_producer(&bob).await.unwrap();
    assert_eq!(repo.document(&bob.id, &doc.id).await.unwrap(), None);
    assert_eq!(repo.list_documents(&bob.id, None, 10).await.unwrap(), vec![]);
}

async fn list_documents_pages_in_id_order(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    let bob = producer("bob");
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    // Ids whose byte order differs from a locale's order (punctuation, digits, case), so a
    // database sorting by locale instead of bytes fails here.
    let ids = ["aAAAAAAAAAAAAAAAAAAAAA", "_AAAAAAAAAAAAAAAAAAAAA", "ZAAAAAAAAAAAAAAAAAAAAA",
        "-AAAAAAAAAAAAAAAAAAAAA", "0AAAAAAAAAAAAAAAAAAAAA", "BAAAAAAAAAAAAAAAAAAAAA"];
    let mut expected = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        let doc = DocumentRecord {
            id: DocumentId::parse(id).unwrap(),
            name: format!("doc {i}"),
            ..document(&alice.id, &object.key)
        };
        repo.insert_document(&doc).await.unwrap();
        expected.push((doc.id, doc.name));
    }
    // Bob's document sits between Alice's in id order and must never show up in her listing.
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let bobs = DocumentRecord {
        id: DocumentId::parse("MAAAAAAAAAAAAAAAAAAAAA").unwrap(),
        ..document(&bob.id, &object.key)
    };
    repo.insert_document(&bobs).await.unwrap();
    expected.sort_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));

    assert_eq!(repo.list_documents(&alice.id, None, 100).await.unwrap(), expected);
    assert_eq!(repo.list_documents(&alice.id, None, 0).await.unwrap(), vec![]);

    let mut pages = Vec::new();
    let mut after: Option<DocumentId> = None;
    loop {
        let page = repo.list_documents(&alice.id, after.as_ref(), 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(id, _)| id.clone());
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 2]);
    assert_eq!(pages.concat(), expected);

    // A cursor need not be an existing id: paging resumes after it.
    let cursor = DocumentId::parse("1AAAAAAAAAAAAAAAAAAAAA").unwrap();
    let rest = repo.list_documents(&alice.id, Some(&cursor), 100).await.unwrap();
    assert_eq!(rest, expected[2..]);
    assert_eq!(repo.list_documents(&bob.id, None, 100).await.unwrap(), vec![(bobs.id, bobs.name)]);
}

async fn delete_document_removes_record_and_object(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let keep = stored_document(&*repo, "bob").await;

    assert_eq!(repo.delete_document(&doc.producer_id, &doc.id).await.unwrap(), Some(doc.clone()));
    assert_eq!(repo.document(&doc.producer_id, &doc.id).await.unwrap(), None);
    assert_eq!(repo.object(&doc.object_key).await.unwrap(), None);
    assert!(!repo.object_exists(&doc.object_key).await.unwrap());
    assert_eq!(repo.delete_document(&doc.producer_id, &doc.id).await.unwrap(), None);
    assert_eq!(repo.list_documents(&doc.producer_id, None, 10).await.unwrap(), vec![]);

    // Nothing else went with it.
    assert_eq!(repo.document(&keep.producer_id, &keep.id).await.unwrap(), Some(keep.clone()));
    assert!(repo.object_exists(&keep.object_key).await.unwrap());
}

async fn delete_of_other_producers_document_deletes_nothing(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let bob = producer("bob");
    repo.insert_producer(&bob).await.unwrap();

    assert_eq!(repo.delete_document(&bob.id, &doc.id).await.unwrap(), None);
    assert_eq!(repo.document(&doc.producer_id, &doc.id).await.unwrap(), Some(doc.clone()));
    assert!(repo.object_exists(&doc.object_key).await.unwrap());
}

async fn duplicate_document_keys_conflict(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let fresh_object = || async {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        object.key
    };

    let same_id = DocumentRecord { id: doc.id.clone(), ..document(&doc.producer_id, &fresh_object().await) };
    assert_conflict(repo.insert_document(&same_id).await);
    let same_placeholder = DocumentRecord {
        placeholder_id: doc.placeholder_id.clone(),
        ..document(&doc.producer_id, &fresh_object().await)
    };
    assert_conflict(repo.insert_document(&same_placeholder).await);
    // A document owns its object: two documents never share one.
    assert_conflict(repo.insert_document(&document(&doc.producer_id, &doc.object_key)).await);
    assert_eq!(repo.list_documents(&doc.producer_id, None, 10).await.unwrap().len(), 1);
}

async fn document_needs_existing_producer_and_object(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let unknown_object = repo.insert_document(&document(&alice.id, &ObjectKey::random())).await;
    assert!(matches!(unknown_object, Err(RepoError::Database(_))), "{unknown_object:?}");

    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let unknown_producer = repo.insert_document(&document(&ProducerId::random(), &object.key)).await;
    assert!(matches!(unknown_producer, Err(RepoError::Database(_))), "{unknown_producer:?}");
    let orphan_session = repo.insert_session(&session(&ProducerId::random(), now(), Duration::hours(1))).await;
    assert!(matches!(orphan_session, Err(RepoError::Database(_))), "{orphan_session:?}");
}
