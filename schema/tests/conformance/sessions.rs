//! Login sessions: active until expiry or revocation, revocation happens once.

use std::sync::Arc;

use chrono::Duration;
use schema::repo::UniqueKey;
use schema::{LoginSession, Repository};

use crate::fixtures::{assert_conflict, now, producer, session};

conformance!(
    session_is_active_until_revoked,
    expired_session_is_not_active,
    revoke_unknown_session_is_false,
);

async fn session_is_active_until_revoked(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let t = now();
    let login = session(&alice.id, t, Duration::hours(1));
    repo.insert_session(&login).await.unwrap();
    assert_conflict(repo.insert_session(&login).await, UniqueKey::SessionId);

    assert_eq!(
        repo.active_session(&login.jti, t).await.unwrap(),
        Some(login.clone())
    );
    assert!(
        repo.revoke_session(&login.jti, t + Duration::minutes(1))
            .await
            .unwrap()
    );
    assert_eq!(
        repo.active_session(&login.jti, t + Duration::minutes(2))
            .await
            .unwrap(),
        None
    );
    assert!(
        !repo
            .revoke_session(&login.jti, t + Duration::minutes(3))
            .await
            .unwrap()
    );
}

async fn expired_session_is_not_active(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let t = now();
    let login = session(&alice.id, t, Duration::hours(1));
    repo.insert_session(&login).await.unwrap();

    let last_moment = login.expires_at - Duration::milliseconds(1);
    assert!(
        repo.active_session(&login.jti, last_moment)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.active_session(&login.jti, login.expires_at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repo.active_session(&login.jti, t + Duration::days(1))
            .await
            .unwrap(),
        None
    );
    // An expired session is not active, so there is nothing to revoke.
    assert!(
        !repo
            .revoke_session(&login.jti, login.expires_at)
            .await
            .unwrap()
    );

    // A session stored already revoked reads back with its revocation time and is not active.
    let revoked = LoginSession {
        revoked_at: Some(t),
        ..session(&alice.id, t, Duration::hours(1))
    };
    repo.insert_session(&revoked).await.unwrap();
    assert_eq!(repo.active_session(&revoked.jti, t).await.unwrap(), None);
}

async fn revoke_unknown_session_is_false(repo: Arc<dyn Repository>) {
    assert!(!repo.revoke_session("no-such-jti", now()).await.unwrap());
    assert_eq!(
        repo.active_session("no-such-jti", now()).await.unwrap(),
        None
    );
}
