//! Reserving a guess before it is compared (issue 14, finding 1): one transaction counts the
//! attempt against the pair, the address and the document, or refuses it without counting;
//! however many race, no limit is passed; a success gives its reservation back.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::{
    Attempt, AttemptLimits, ChallengeLock, DocumentId, LockPolicy, Refusal, Repository, Reservation,
};

use crate::fixtures::{at, stored_document};

conformance!(
    reservations_count_first_and_refuse_past_a_lock,
    concurrent_reservations_never_pass_a_limit,
    a_released_reservation_is_given_back,
);

const VIEWER: &str = "zoë@example.com";

/// Limits of `per_lock` failures per lock, `cap` in all, `per_address` and `per_document` an
/// hour, and a first lock of 15 minutes.
fn limits(per_lock: u32, cap: u32, per_address: u32, per_document: u32) -> AttemptLimits {
    AttemptLimits {
        policy: LockPolicy {
            failures_per_lock: per_lock,
            hard_cap: cap,
            ..LockPolicy::default()
        },
        per_address,
        per_document,
        window: Duration::hours(1),
    }
}

fn attempt<'a>(doc: &'a DocumentId, viewer: Option<&'a str>, t: DateTime<Utc>) -> Attempt<'a> {
    Attempt {
        document: doc,
        viewer,
        address: "192.0.2.9",
        now: t,
    }
}

async fn reservations_count_first_and_refuse_past_a_lock(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let t = at(1_700_000_000_000);
    let limits = limits(5, 50, 100, 100);
    let one = attempt(&doc.id, Some(VIEWER), t);
    for failures in 1..=4 {
        assert_eq!(
            repo.reserve_attempt(&one, &limits).await.unwrap(),
            Reservation::Granted { then: None }
        );
        // Counted before anything is compared.
        assert_eq!(
            repo.challenge_lock(&doc.id, VIEWER, t).await.unwrap(),
            ChallengeLock::Open { failures }
        );
    }
    // The fifth is granted (it may be right) and a wrong one answers with the lock it made.
    let until = Refusal::Until(t + Duration::minutes(15));
    assert_eq!(
        repo.reserve_attempt(&one, &limits).await.unwrap(),
        Reservation::Granted { then: Some(until) }
    );
    assert_eq!(
        repo.reserve_attempt(&one, &limits).await.unwrap(),
        Reservation::Refused(until)
    );
    assert_eq!(
        repo.address_failures("192.0.2.9", t, Duration::hours(1))
            .await
            .unwrap(),
        5
    );
    // A token guess (no pair) fills the document's window: the 100th is the last granted.
    let other = stored_document(&*repo, "bob").await;
    let end = Refusal::Until(at(1_700_002_800_000)); // the next whole hour
    let limits = limits_with_document(3);
    let token = attempt(&other.id, None, t);
    for then in [None, None, Some(end)] {
        assert_eq!(
            repo.reserve_attempt(&token, &limits).await.unwrap(),
            Reservation::Granted { then }
        );
    }
    assert_eq!(
        repo.reserve_attempt(&token, &limits).await.unwrap(),
        Reservation::Refused(end)
    );
    // Another document is not affected by this one's window.
    let third = stored_document(&*repo, "carol").await;
    assert_eq!(
        repo.reserve_attempt(&attempt(&third.id, None, t), &limits)
            .await
            .unwrap(),
        Reservation::Granted { then: None }
    );
}

fn limits_with_document(per_document: u32) -> AttemptLimits {
    limits(5, 50, 100, per_document)
}

/// 60 reservations at once under `limits`: how many were granted.
async fn granted_at_once(
    repo: &Arc<dyn Repository>,
    doc: &DocumentId,
    limits: AttemptLimits,
    t: DateTime<Utc>,
) -> usize {
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let (repo, id) = (repo.clone(), doc.clone());
            tokio::spawn(async move {
                repo.reserve_attempt(&attempt(&id, Some(VIEWER), t), &limits)
                    .await
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        if let Reservation::Granted { .. } = task.await.unwrap().unwrap() {
            granted += 1;
        }
    }
    granted
}

async fn concurrent_reservations_never_pass_a_limit(repo: Arc<dyn Repository>) {
    let cases = [
        (limits(5, 50, 100, 100), 5),
        (limits(100, 7, 100, 100), 7),
        (limits(100, 100, 6, 100), 6),
        (limits(100, 100, 100, 4), 4),
    ];
    for (hour, (limits, most)) in (0..).zip(cases) {
        // A fresh document, and a fresh address window each time.
        let doc = stored_document(&*repo, &format!("producer{hour}")).await;
        let t = at(1_700_000_000_000) + Duration::hours(hour);
        let granted = granted_at_once(&repo, &doc.id, limits, t).await;
        assert_eq!(granted, most, "{limits:?}");
    }
}

async fn a_released_reservation_is_given_back(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let t = at(1_700_000_000_000);
    let limits = limits(5, 5, 3, 100);
    let one = attempt(&doc.id, Some(VIEWER), t);
    // The reservation that reaches the hard cap, then the right password: all forgotten.
    for _ in 0..2 {
        repo.reserve_attempt(&one, &limits).await.unwrap();
    }
    assert_eq!(
        repo.reserve_attempt(&one, &limits).await.unwrap(),
        Reservation::Granted {
            then: Some(Refusal::Until(at(1_700_002_800_000)))
        }
    );
    repo.release_attempt(&one, Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        repo.challenge_lock(&doc.id, VIEWER, t).await.unwrap(),
        ChallengeLock::Open { failures: 0 }
    );
    let window = Duration::hours(1);
    assert_eq!(
        repo.address_failures("192.0.2.9", t, window).await.unwrap(),
        2
    );
    // Given back, the address has one more guess this hour, and only one.
    assert_eq!(
        repo.reserve_attempt(&one, &limits).await.unwrap(),
        Reservation::Granted {
            then: Some(Refusal::Until(at(1_700_002_800_000)))
        }
    );
    assert!(matches!(
        repo.reserve_attempt(&one, &limits).await.unwrap(),
        Reservation::Refused(_)
    ));
    // Releasing an empty window never goes below zero.
    let fresh = attempt(&doc.id, None, t + Duration::hours(2));
    repo.release_attempt(&fresh, window).await.unwrap();
    assert_eq!(
        repo.address_failures("192.0.2.9", fresh.now, window)
            .await
            .unwrap(),
        0
    );
}
