//! API keys: stored as described, names unique among a producer's unrevoked keys, revocation
//! once, `last_used_at` written at most once per window.

use std::sync::Arc;

use chrono::Duration;
use schema::repo::{ApiKeyRecord, KeyRate, UniqueKey};
use schema::{Environment, ProducerId, Repository, Scope, Scopes};

use crate::fixtures::{assert_conflict, now, producer};

conformance!(
    api_key_round_trips,
    api_key_names_are_unique_per_producer_until_revoked,
    revoke_names_the_revoked_key_once,
    touch_writes_once_per_window,
);

fn key(producer: &ProducerId, id: &str, name: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        producer_id: producer.clone(),
        name: name.to_owned(),
        environment: Environment::Live,
        scopes: [Scope::Read, Scope::Deliver].into_iter().collect(),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        encryption: false,
        rate_limit: None,
        created_at: now(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    }
}

async fn api_key_round_trips(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let plain = key(&alice.id, "k1", "ci");
    let full = ApiKeyRecord {
        environment: Environment::Test,
        scopes: Scopes::ALL,
        encryption: true,
        rate_limit: Some(KeyRate {
            per_second: 5,
            burst: 4_000_000_000,
        }),
        expires_at: Some(now() + Duration::days(30)),
        ..key(&alice.id, "k2", "nightly – ✓")
    };
    repo.insert_api_key(&plain).await.unwrap();
    repo.insert_api_key(&full).await.unwrap();

    assert_eq!(repo.api_key_by_id("k1").await.unwrap(), Some(plain.clone()));
    assert_eq!(repo.api_key_by_id("k2").await.unwrap(), Some(full.clone()));
    assert_eq!(repo.api_key_by_id("k3").await.unwrap(), None);
    let listed = repo.api_keys_of(&alice.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&plain) && listed.contains(&full));
    assert!(
        repo.api_keys_of(&ProducerId::random())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn api_key_names_are_unique_per_producer_until_revoked(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    repo.insert_api_key(&key(&alice.id, "a1", "ci"))
        .await
        .unwrap();
    assert_conflict(
        repo.insert_api_key(&key(&alice.id, "a2", "ci")).await,
        UniqueKey::ApiKeyName,
    );
    assert_conflict(
        repo.insert_api_key(&key(&bob.id, "a1", "other")).await,
        UniqueKey::ApiKeyId,
    );
    // Another producer may use the name; a revoked name may be reused.
    repo.insert_api_key(&key(&bob.id, "b1", "ci"))
        .await
        .unwrap();
    repo.revoke_api_key(&alice.id, "ci", now()).await.unwrap();
    repo.insert_api_key(&key(&alice.id, "a3", "ci"))
        .await
        .unwrap();
}

async fn revoke_names_the_revoked_key_once(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    repo.insert_api_key(&key(&alice.id, "a1", "ci"))
        .await
        .unwrap();
    let t = now();
    // Another producer's key of that name is not theirs to revoke.
    assert_eq!(repo.revoke_api_key(&bob.id, "ci", t).await.unwrap(), None);
    assert_eq!(
        repo.revoke_api_key(&alice.id, "ci", t).await.unwrap(),
        Some("a1".to_owned())
    );
    assert_eq!(repo.revoke_api_key(&alice.id, "ci", t).await.unwrap(), None);
    let stored = repo.api_key_by_id("a1").await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(t));
}

async fn touch_writes_once_per_window(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_api_key(&key(&alice.id, "a1", "ci"))
        .await
        .unwrap();
    let t = now();
    let minute = Duration::minutes(1);
    assert!(repo.touch_api_key("a1", t, t - minute).await.unwrap());
    let later = t + Duration::seconds(10);
    assert!(
        !repo
            .touch_api_key("a1", later, later - minute)
            .await
            .unwrap()
    );
    let next = t + Duration::seconds(61);
    assert!(repo.touch_api_key("a1", next, next - minute).await.unwrap());
    let stored = repo.api_key_by_id("a1").await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(next));
    assert!(!repo.touch_api_key("nope", t, t).await.unwrap());
}
