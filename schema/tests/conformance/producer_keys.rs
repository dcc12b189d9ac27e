//! Producer keys (issue 16, item 4): several per producer, unique across producers, the last
//! one kept, removal revoking the sessions the key opened; single-use assertion ids (item 3).

use std::sync::Arc;

use chrono::Duration;
use schema::repo::{KeyRemoval, MAX_KEYS_PER_PRODUCER, ProducerKey, UniqueKey};
use schema::{Environment, LoginSession, ProducerId, Repository};

use crate::fixtures::{assert_conflict, now, producer, session};

conformance!(
    a_new_producer_has_its_first_key,
    keys_are_added_listed_and_unique,
    removing_a_key_revokes_its_sessions_and_keeps_the_last,
    sessions_keep_their_key_and_environment,
    an_assertion_id_is_used_once,
    a_producer_holds_a_bounded_number_of_keys,
);

fn key_of(owner: &ProducerId, byte: u8) -> ProducerKey {
    ProducerKey {
        id: ProducerKey::new_id(),
        producer_id: owner.clone(),
        public_key: vec![byte; 32],
        created_at: now(),
    }
}

async fn a_new_producer_has_its_first_key(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let keys = repo.producer_keys(&alice.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].public_key, alice.public_key);
    assert_eq!(keys[0].id.len(), 16);
    let (found, key) = repo
        .producer_by_key(&alice.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, key), (alice.clone(), keys[0].clone()));
    let (named, listed) = repo.producer_with_keys("alice").await.unwrap().unwrap();
    assert_eq!((named, listed), (alice, keys));
    assert_eq!(repo.producer_with_keys("bob").await.unwrap(), None);
    assert_eq!(repo.producer_by_key(&[9; 32]).await.unwrap(), None);
}

async fn keys_are_added_listed_and_unique(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    let second = key_of(&alice.id, 1);
    assert!(repo.add_producer_key(&second).await.unwrap());
    let keys = repo.producer_keys(&alice.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.contains(&second));
    assert_eq!(
        repo.producer_by_key(&second.public_key).await.unwrap(),
        Some((alice.clone(), second.clone()))
    );
    // The same public key again, for this producer or another: a conflict.
    assert_conflict(
        repo.add_producer_key(&key_of(&bob.id, 1)).await.map(drop),
        UniqueKey::ProducerKeyPublicKey,
    );
    let mut bobs_key = key_of(&bob.id, 3);
    bobs_key.public_key = alice.public_key.clone();
    assert_conflict(
        repo.add_producer_key(&bobs_key).await.map(drop),
        UniqueKey::ProducerKeyPublicKey,
    );
    assert_eq!(repo.producer_keys(&bob.id).await.unwrap().len(), 1);
}

async fn removing_a_key_revokes_its_sessions_and_keeps_the_last(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    let first = repo.producer_keys(&alice.id).await.unwrap().remove(0);
    let second = key_of(&alice.id, 2);
    assert!(repo.add_producer_key(&second).await.unwrap());
    let t = now();
    let by_first = with_key(session(&alice.id, t, Duration::hours(1)), &first.id);
    let by_second = with_key(session(&alice.id, t, Duration::hours(1)), &second.id);
    repo.insert_session(&by_first).await.unwrap();
    repo.insert_session(&by_second).await.unwrap();

    // Another producer's key, or none: unknown, nothing changes.
    let bobs = repo.producer_keys(&bob.id).await.unwrap().remove(0);
    for id in [bobs.id.as_str(), "0000000000000000"] {
        let removal = repo.remove_producer_key(&alice.id, id, t).await.unwrap();
        assert_eq!(removal, KeyRemoval::Unknown);
    }
    let removal = repo.remove_producer_key(&alice.id, &first.id, t).await;
    assert_eq!(
        removal.unwrap(),
        KeyRemoval::Removed {
            sessions_revoked: 1
        }
    );
    assert_eq!(repo.active_session(&by_first.jti, t).await.unwrap(), None);
    assert!(
        repo.active_session(&by_second.jti, t)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(repo.producer_by_key(&first.public_key).await.unwrap(), None);
    assert_eq!(
        repo.producer_keys(&alice.id).await.unwrap(),
        vec![second.clone()]
    );

    // The last key stays, and so does its session.
    let removal = repo.remove_producer_key(&alice.id, &second.id, t).await;
    assert_eq!(removal.unwrap(), KeyRemoval::LastKey);
    assert!(
        repo.active_session(&by_second.jti, t)
            .await
            .unwrap()
            .is_some()
    );
    // A removed key may come back, to this producer or another.
    let back = ProducerKey {
        public_key: first.public_key.clone(),
        ..key_of(&bob.id, 0)
    };
    assert!(repo.add_producer_key(&back).await.unwrap());
}

fn with_key(session: LoginSession, key_id: &str) -> LoginSession {
    LoginSession {
        key_id: Some(key_id.to_owned()),
        ..session
    }
}

async fn sessions_keep_their_key_and_environment(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let t = now();
    let login = LoginSession {
        environment: Environment::Test,
        ..with_key(
            session(&alice.id, t, Duration::hours(1)),
            "0123456789abcdef",
        )
    };
    repo.insert_session(&login).await.unwrap();
    assert_eq!(
        repo.active_session(&login.jti, t).await.unwrap(),
        Some(login)
    );
}

async fn a_producer_holds_a_bounded_number_of_keys(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    for byte in 1..MAX_KEYS_PER_PRODUCER {
        assert!(
            repo.add_producer_key(&key_of(&alice.id, byte as u8))
                .await
                .unwrap()
        );
    }
    let one_too_many = key_of(&alice.id, 99);
    assert!(!repo.add_producer_key(&one_too_many).await.unwrap());
    assert_eq!(
        repo.producer_by_key(&one_too_many.public_key)
            .await
            .unwrap(),
        None
    );
    let keys = repo.producer_keys(&alice.id).await.unwrap();
    assert_eq!(keys.len() as i64, MAX_KEYS_PER_PRODUCER);
    let removal = repo
        .remove_producer_key(&alice.id, &keys[1].id, now())
        .await;
    assert!(matches!(removal.unwrap(), KeyRemoval::Removed { .. }));
    assert!(repo.add_producer_key(&one_too_many).await.unwrap());
}

async fn an_assertion_id_is_used_once(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    let t = now();
    let exp = t + Duration::minutes(5);
    repo.use_assertion(&alice.id, "jti-1", exp, t)
        .await
        .unwrap();
    assert_conflict(
        repo.use_assertion(&alice.id, "jti-1", exp, t).await,
        UniqueKey::AssertionId,
    );
    // Ids are per producer.
    repo.use_assertion(&bob.id, "jti-1", exp, t).await.unwrap();
    // Once expired, the row is swept by the producer's next login (the assertion itself is
    // refused by its `exp` by then).
    let later = exp + Duration::seconds(1);
    repo.use_assertion(&alice.id, "jti-2", later + Duration::minutes(5), later)
        .await
        .unwrap();
    repo.use_assertion(&alice.id, "jti-1", later + Duration::minutes(5), later)
        .await
        .unwrap();
}

/// A producer and a login session written before migration 0013: after it, the producer's key
/// is its first `producer_keys` row (16 hex digits), the session acts in `live` and names no
/// key, and removing that key revokes it too (it may have been opened with it).
async fn upgraded_from_before_keys(repo: Arc<dyn Repository>, insert: impl AsyncFnOnce(&str)) {
    let alice = producer("alice");
    let t = now();
    let old = session(&alice.id, t, Duration::hours(1));
    insert(&format!(
        "INSERT INTO producers (id, name, email, public_key, created_at) \
         VALUES ('{}', 'alice', NULL, X'{}', {}); \
         INSERT INTO login_sessions (jti, producer_id, email, issued_at, expires_at) \
         VALUES ('{}', '{}', 'op@example.com', {}, {})",
        alice.id.as_str(),
        alice
            .public_key
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
        t.timestamp_millis(),
        old.jti,
        alice.id.as_str(),
        t.timestamp_millis(),
        old.expires_at.timestamp_millis(),
    ))
    .await;
    repo.migrate().await.unwrap();
    let (found, key) = repo
        .producer_by_key(&alice.public_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, alice.id);
    assert!(key.id.len() == 16 && key.id.bytes().all(|b| b.is_ascii_hexdigit()));
    let session = repo.active_session(&old.jti, t).await.unwrap().unwrap();
    assert_eq!(
        (session.key_id, session.environment),
        (None, Environment::Live)
    );
    assert!(repo.add_producer_key(&key_of(&alice.id, 5)).await.unwrap());
    let removal = repo.remove_producer_key(&alice.id, &key.id, t).await;
    assert!(matches!(removal.unwrap(), KeyRemoval::Removed { .. }));
    assert_eq!(repo.active_session(&old.jti, t).await.unwrap(), None);
}

#[tokio::test]
async fn upgraded_from_before_keys_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
    let repo = schema::sqlite::SqliteRepository::connect(&url)
        .await
        .unwrap();
    schema::testing::migrate_sqlite_to(&repo, 12).await.unwrap();
    let pool = repo.pool().clone();
    upgraded_from_before_keys(Arc::new(repo), async |sql: &str| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn upgraded_from_before_keys_postgres() {
    let database = schema::testing::TestDatabase::create().await;
    let repo = schema::postgres::PgRepository::connect(database.url())
        .await
        .unwrap();
    schema::testing::migrate_postgres_to(&repo, 12)
        .await
        .unwrap();
    let pool = repo.pool().clone();
    let sql_of = |sql: &str| sql.replace("X'", "'\\x");
    upgraded_from_before_keys(Arc::new(repo), async |sql: &str| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql_of(sql)))
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}
