//! Pending OAuth / OpenID sign-ins: stored on the way to the provider, taken once by the
//! callback, pruned once expired.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::{DocumentId, OAuthPending, Repository};

use crate::fixtures::now;

conformance!(
    taken_once,
    expired_is_none_and_gone,
    insert_prunes_expired_sign_ins,
    concurrent_takes_only_one_wins,
);

fn pending(expires_at: DateTime<Utc>) -> OAuthPending {
    // The state is random; only its lowercase hex SHA-256 is stored.
    let state = DocumentId::random();
    let digest = ring::digest::digest(&ring::digest::SHA256, state.as_str().as_bytes());
    OAuthPending {
        state_hash: digest.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        document_id: DocumentId::random(),
        request: "/d/abc?l=sealed%2Fvalue&x=ü".to_owned(),
        pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned(),
        nonce: "n-0S6_WzA2Mj".to_owned(),
        expires_at,
    }
}

async fn taken_once(repo: Arc<dyn Repository>) {
    let t = now();
    let first = pending(t + Duration::minutes(10));
    let other = pending(t + Duration::minutes(10));
    repo.insert_oauth_pending(&first, t).await.unwrap();
    repo.insert_oauth_pending(&other, t).await.unwrap();

    assert_eq!(
        repo.take_oauth_pending(&first.state_hash, t).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        repo.take_oauth_pending(&first.state_hash, t).await.unwrap(),
        None
    );
    assert_eq!(
        repo.take_oauth_pending("no-such-state", t).await.unwrap(),
        None
    );
    // Taking one leaves the others.
    assert_eq!(
        repo.take_oauth_pending(&other.state_hash, t).await.unwrap(),
        Some(other)
    );
}

async fn expired_is_none_and_gone(repo: Arc<dyn Repository>) {
    let t = now();
    let soon = pending(t + Duration::minutes(10));
    repo.insert_oauth_pending(&soon, t).await.unwrap();
    // Taken at its expiry: expired, and deleted all the same.
    assert_eq!(
        repo.take_oauth_pending(&soon.state_hash, soon.expires_at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repo.take_oauth_pending(&soon.state_hash, t).await.unwrap(),
        None
    );

    // One millisecond before its expiry it is still good.
    let edge = pending(t + Duration::minutes(10));
    repo.insert_oauth_pending(&edge, t).await.unwrap();
    assert_eq!(
        repo.take_oauth_pending(
            &edge.state_hash,
            edge.expires_at - Duration::milliseconds(1)
        )
        .await
        .unwrap(),
        Some(edge)
    );
}

async fn insert_prunes_expired_sign_ins(repo: Arc<dyn Repository>) {
    let t = now();
    let old = pending(t + Duration::minutes(1));
    let live = pending(t + Duration::minutes(30));
    repo.insert_oauth_pending(&old, t).await.unwrap();
    repo.insert_oauth_pending(&live, t).await.unwrap();

    // Later, once `old` expired, another viewer starts a sign-in: `old` is pruned, so even a
    // take that (wrongly) thinks it is still early cannot get it; `live` stays.
    let later = t + Duration::minutes(5);
    let newer = pending(later + Duration::minutes(10));
    repo.insert_oauth_pending(&newer, later).await.unwrap();
    assert_eq!(
        repo.take_oauth_pending(&old.state_hash, t).await.unwrap(),
        None
    );
    assert_eq!(
        repo.take_oauth_pending(&live.state_hash, later)
            .await
            .unwrap(),
        Some(live)
    );
    assert_eq!(
        repo.take_oauth_pending(&newer.state_hash, later)
            .await
            .unwrap(),
        Some(newer)
    );
}

async fn concurrent_takes_only_one_wins(repo: Arc<dyn Repository>) {
    let t = now();
    let racing = pending(t + Duration::minutes(10));
    repo.insert_oauth_pending(&racing, t).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let repo = repo.clone();
            let state_hash = racing.state_hash.clone();
            tokio::spawn(async move { repo.take_oauth_pending(&state_hash, t).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(taken) = task.await.unwrap().unwrap() {
            winners.push(taken);
        }
    }
    assert_eq!(winners, [racing]);
}
