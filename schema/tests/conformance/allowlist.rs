//! Producers' IP allowlists: empty by default, set and read back in order (IPv4 and IPv6),
//! cleared, per producer, and nothing for a producer that does not exist.

use std::sync::Arc;

use ipnet::IpNet;
use schema::{ProducerId, Repository};

use crate::fixtures::producer;

conformance!(
    allowlist_is_empty_until_set_then_reads_back,
    allowlists_are_per_producer,
    unknown_producer_has_no_allowlist,
);

fn cidrs(texts: &[&str]) -> Vec<IpNet> {
    texts.iter().map(|text| text.parse().unwrap()).collect()
}

async fn allowlist_is_empty_until_set_then_reads_back(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    assert!(repo.allowlist(&alice.id).await.unwrap().is_empty());

    let list = cidrs(&["192.0.2.0/24", "2001:db8::/32", "127.0.0.2/32", "::1/128"]);
    assert!(repo.set_allowlist(&alice.id, &list).await.unwrap());
    assert_eq!(repo.allowlist(&alice.id).await.unwrap(), list);

    let replaced = cidrs(&["10.0.0.0/8"]);
    assert!(repo.set_allowlist(&alice.id, &replaced).await.unwrap());
    assert_eq!(repo.allowlist(&alice.id).await.unwrap(), replaced);

    assert!(repo.set_allowlist(&alice.id, &[]).await.unwrap());
    assert!(repo.allowlist(&alice.id).await.unwrap().is_empty());
}

async fn allowlists_are_per_producer(repo: Arc<dyn Repository>) {
    let (alice, bob) = (producer("alice"), producer("bob"));
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    let list = cidrs(&["198.51.100.7/32"]);
    repo.set_allowlist(&alice.id, &list).await.unwrap();
    assert_eq!(repo.allowlist(&alice.id).await.unwrap(), list);
    assert!(repo.allowlist(&bob.id).await.unwrap().is_empty());
}

async fn unknown_producer_has_no_allowlist(repo: Arc<dyn Repository>) {
    let nobody = ProducerId::random();
    let list = cidrs(&["192.0.2.0/24"]);
    assert!(!repo.set_allowlist(&nobody, &list).await.unwrap());
    assert!(repo.allowlist(&nobody).await.unwrap().is_empty());
}
