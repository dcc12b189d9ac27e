//! Producers: insertion, lookups by public key and by name, uniqueness, count.

use std::sync::Arc;

use schema::repo::UniqueKey;
use schema::{Producer, Repository};

use crate::fixtures::{assert_conflict, producer};

conformance!(
    producer_round_trip_and_lookups,
    duplicate_producer_name_conflicts,
    duplicate_public_key_conflicts,
);

async fn producer_round_trip_and_lookups(repo: Arc<dyn Repository>) {
    assert_eq!(repo.count_producers().await.unwrap(), 0);
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let bob = Producer {
        email: None,
        ..producer("bob")
    };
    repo.insert_producer(&bob).await.unwrap();

    let by_key = async |key: &[u8]| repo.producer_by_key(key).await.unwrap().map(|(p, _)| p);
    assert_eq!(by_key(&alice.public_key).await, Some(alice.clone()));
    assert_eq!(repo.producer_by_name("alice").await.unwrap(), Some(alice));
    assert_eq!(
        repo.producer_by_name("bob").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(by_key(&bob.public_key).await, Some(bob));
    assert_eq!(repo.producer_by_name("carol").await.unwrap(), None);
    assert_eq!(repo.producer_by_name("Alice").await.unwrap(), None);
    assert_eq!(by_key(&[7; 32]).await, None);
    assert_eq!(repo.count_producers().await.unwrap(), 2);
}

async fn duplicate_producer_name_conflicts(repo: Arc<dyn Repository>) {
    repo.insert_producer(&producer("alice")).await.unwrap();
    assert_conflict(
        repo.insert_producer(&producer("alice")).await,
        UniqueKey::ProducerName,
    );
    assert_eq!(repo.count_producers().await.unwrap(), 1);
}

async fn duplicate_public_key_conflicts(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let mallory = Producer {
        public_key: alice.public_key.clone(),
        ..producer("mallory")
    };
    assert_conflict(repo.insert_producer(&mallory).await, UniqueKey::ProducerKey);
    // The same id again is a conflict too.
    let twin = Producer {
        id: alice.id.clone(),
        ..producer("twin")
    };
    assert_conflict(repo.insert_producer(&twin).await, UniqueKey::ProducerId);
    assert_eq!(repo.count_producers().await.unwrap(), 1);
}
