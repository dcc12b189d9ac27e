//! The gateway's brute-force limits: per (document, viewer) locks that double up to a cap and
//! a hard cap only the producer resets, and per-address failure windows.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::{ChallengeLock, DocumentId, LockPolicy, Repository};

use crate::fixtures::{at, stored_document};

conformance!(
    locks_double_up_to_a_day_then_hold_until_reset,
    success_forgets_failures_and_lock_history,
    reset_is_scoped_to_the_owner_and_the_document,
    concurrent_failures_are_all_counted,
    address_failures_count_per_window,
);

const VIEWER: &str = "zoë@example.com";

/// Records `n` failures at `now` and returns the state after the last one.
async fn fail(
    repo: &dyn Repository,
    doc: &DocumentId,
    now: DateTime<Utc>,
    n: u32,
) -> ChallengeLock {
    let mut state = None;
    for _ in 0..n {
        state = Some(
            repo.record_challenge_failure(doc, VIEWER, now, &LockPolicy::default())
                .await
                .unwrap(),
        );
    }
    state.unwrap()
}

async fn locks_double_up_to_a_day_then_hold_until_reset(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let mut t = at(1_700_000_000_000);
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, t).await.unwrap(),
        ChallengeLock::Open { failures: 0 }
    );
    for failures in 1..=4 {
        assert_eq!(
            fail(&*repo, &doc.id, t, 1).await,
            ChallengeLock::Open { failures }
        );
    }
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, t).await.unwrap(),
        ChallengeLock::Open { failures: 4 }
    );

    // Nine locks (45 failures): 15 min, doubling, capped at 24 h.
    for minutes in [15, 30, 60, 120, 240, 480, 960, 1440, 1440] {
        let until = t + Duration::minutes(minutes);
        let before = if minutes == 15 { 1 } else { 5 };
        assert_eq!(
            fail(&*repo, &doc.id, t, before).await,
            ChallengeLock::Locked { until }
        );
        let just_before = until - Duration::milliseconds(1);
        assert_eq!(
            repo.challenge_lock(&doc.id, VIEWER, just_before)
                .await
                .unwrap(),
            ChallengeLock::Locked { until }
        );
        assert_eq!(
            repo.challenge_lock(&doc.id, VIEWER, until).await.unwrap(),
            ChallengeLock::Open { failures: 0 },
            "an expired lock reads as open, the count restarted"
        );
        t = until;
    }
    assert_eq!(
        fail(&*repo, &doc.id, t, 4).await,
        ChallengeLock::Open { failures: 4 }
    );
    // The 50th failure: locked until the producer resets it.
    assert_eq!(fail(&*repo, &doc.id, t, 1).await, ChallengeLock::UntilReset);
    let much_later = t + Duration::days(365);
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, much_later)
            .await
            .unwrap(),
        ChallengeLock::UntilReset
    );
    assert_eq!(
        fail(&*repo, &doc.id, much_later, 1).await,
        ChallengeLock::UntilReset
    );
    // A success cannot open it (the gateway never reports one for a locked pair anyway) …
    repo.clear_challenge_failures(&doc.id, VIEWER)
        .await
        .unwrap();
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, much_later)
            .await
            .unwrap(),
        ChallengeLock::UntilReset
    );
    // … the producer's reset does.
    assert_eq!(
        repo.reset_challenge_locks(&doc.producer_id, &doc.id)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, much_later)
            .await
            .unwrap(),
        ChallengeLock::Open { failures: 0 }
    );
}

async fn success_forgets_failures_and_lock_history(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let t = at(1_700_000_000_000);
    let fifteen = t + Duration::minutes(15);
    assert_eq!(
        fail(&*repo, &doc.id, t, 5).await,
        ChallengeLock::Locked { until: fifteen }
    );
    assert_eq!(
        fail(&*repo, &doc.id, fifteen, 3).await,
        ChallengeLock::Open { failures: 3 }
    );
    // Other pairs are their own: another viewer, another document.
    assert_eq!(
        repo.challenge_lock(&doc.id, "someone-else", t)
            .await
            .unwrap(),
        ChallengeLock::Open { failures: 0 }
    );
    assert_eq!(
        repo.challenge_lock(&DocumentId::random(), VIEWER, t)
            .await
            .unwrap(),
        ChallengeLock::Open { failures: 0 }
    );

    repo.clear_challenge_failures(&doc.id, VIEWER)
        .await
        .unwrap();
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, fifteen).await.unwrap(),
        ChallengeLock::Open { failures: 0 }
    );
    // The next lock is a first lock again (15 min, not 30).
    assert_eq!(
        fail(&*repo, &doc.id, fifteen, 5).await,
        ChallengeLock::Locked {
            until: fifteen + Duration::minutes(15)
        }
    );
    // Clearing a pair that never failed is fine.
    repo.clear_challenge_failures(&doc.id, "never-failed")
        .await
        .unwrap();
}

async fn reset_is_scoped_to_the_owner_and_the_document(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let other = stored_document(&*repo, "bob").await;
    let t = at(1_700_000_000_000);
    let policy = LockPolicy::default();
    for viewer in ["one", "two"] {
        for _ in 0..5 {
            repo.record_challenge_failure(&doc.id, viewer, t, &policy)
                .await
                .unwrap();
        }
    }
    repo.record_challenge_failure(&other.id, "one", t, &policy)
        .await
        .unwrap();
    let locked = ChallengeLock::Locked {
        until: t + Duration::minutes(15),
    };

    // Bob cannot reset Alice's document: nothing changes.
    assert_eq!(
        repo.reset_challenge_locks(&other.producer_id, &doc.id)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        repo.challenge_lock(&doc.id, "one", t).await.unwrap(),
        locked
    );
    assert_eq!(
        repo.reset_challenge_locks(&doc.producer_id, &DocumentId::random())
            .await
            .unwrap(),
        0
    );

    assert_eq!(
        repo.reset_challenge_locks(&doc.producer_id, &doc.id)
            .await
            .unwrap(),
        2
    );
    for viewer in ["one", "two"] {
        assert_eq!(
            repo.challenge_lock(&doc.id, viewer, t).await.unwrap(),
            ChallengeLock::Open { failures: 0 }
        );
    }
    assert_eq!(
        repo.challenge_lock(&other.id, "one", t).await.unwrap(),
        ChallengeLock::Open { failures: 1 },
        "another document's pairs are untouched"
    );
    assert_eq!(
        repo.reset_challenge_locks(&doc.producer_id, &doc.id)
            .await
            .unwrap(),
        0
    );
}

async fn concurrent_failures_are_all_counted(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let t = at(1_700_000_000_000);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (repo, id) = (repo.clone(), doc.id.clone());
            tokio::spawn(async move {
                repo.record_challenge_failure(&id, VIEWER, t, &LockPolicy::default())
                    .await
            })
        })
        .collect();
    let mut locks = Vec::new();
    for task in tasks {
        if let ChallengeLock::Locked { until } = task.await.unwrap().unwrap() {
            locks.push(until);
        }
    }
    // 20 failures at one instant make four locks (every fifth failure), each one longer; every
    // failure after the first lock reports a lock.
    let lengths = [15, 30, 60, 120].map(|m| t + Duration::minutes(m));
    assert_eq!(locks.len(), 16);
    for until in lengths {
        assert!(locks.contains(&until), "{until} in {locks:?}");
    }
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, t).await.unwrap(),
        ChallengeLock::Locked { until: lengths[3] }
    );
    // And they all count toward the hard cap: 30 more make 50.
    assert_ne!(
        fail(&*repo, &doc.id, t, 29).await,
        ChallengeLock::UntilReset
    );
    assert_eq!(fail(&*repo, &doc.id, t, 1).await, ChallengeLock::UntilReset);
}

async fn address_failures_count_per_window(repo: Arc<dyn Repository>) {
    let window = Duration::minutes(10);
    let start = at(1_700_000_400_000); // a multiple of 10 minutes since the epoch
    let address = "2001:db8::7";
    let in_window = start + Duration::seconds(1);
    assert_eq!(
        repo.address_failures(address, in_window, window)
            .await
            .unwrap(),
        0
    );
    for expected in 1..=3 {
        assert_eq!(
            repo.record_address_failure(address, in_window, window)
                .await
                .unwrap(),
            expected
        );
    }
    let last_instant = start + window - Duration::milliseconds(1);
    assert_eq!(
        repo.record_address_failure(address, last_instant, window)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        repo.address_failures(address, start, window).await.unwrap(),
        4
    );
    assert_eq!(
        repo.address_failures("192.0.2.1", start, window)
            .await
            .unwrap(),
        0
    );

    // The next window starts at 0; the previous one is still there.
    let next = start + window;
    assert_eq!(
        repo.address_failures(address, next, window).await.unwrap(),
        0
    );
    assert_eq!(
        repo.record_address_failure(address, next, window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        repo.address_failures(address, start, window).await.unwrap(),
        4
    );

    // Windows older than the previous one may be pruned; these implementations do it when
    // an address opens a new window.
    let later = start + window * 3;
    assert_eq!(
        repo.record_address_failure("192.0.2.1", later, window)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        repo.address_failures(address, start, window).await.unwrap(),
        0
    );
    assert_eq!(
        repo.address_failures(address, next, window).await.unwrap(),
        0
    );
    assert_eq!(
        repo.address_failures("192.0.2.1", later, window)
            .await
            .unwrap(),
        1
    );
}
