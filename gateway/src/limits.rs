//! Brute-force limits on challenges, kept in the database so every gateway shares them.
//!
//! Per (document, viewer): after `failures_per_lock` failures the pair is locked, for
//! `first_lock` doubling on each further lock up to `max_lock`; after `hard_cap` failures in all
//! it stays locked until the producer resets it. Per client address: at most
//! `per_address` failures in each fixed hour. Every failure and lock is logged (tracing, with
//! the document id and the viewer's digest, never the values).

use chrono::{DateTime, Duration, Utc};
use schema::{ChallengeLock, DocumentId, LockPolicy, RepoError, Repository};

/// How long a refused client waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Until(DateTime<Utc>),
    /// Locked until the producer resets it (`DELETE /documents/{docId}/locks`).
    UntilReset,
}

impl Refusal {
    /// Seconds for `Retry-After` (at least 1; a day for a lock only a reset opens).
    pub fn retry_after_secs(self, now: DateTime<Utc>) -> i64 {
        match self {
            Refusal::Until(until) => (until - now).num_seconds().max(1),
            Refusal::UntilReset => 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limiter {
    pub policy: LockPolicy,
    pub per_address: u32,
}

const WINDOW: Duration = Duration::hours(1);

impl Limiter {
    /// Whether the pair or the address is locked now.
    pub async fn refusal(
        &self,
        repo: &dyn Repository,
        document: &DocumentId,
        viewer: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Refusal>, RepoError> {
        if let Some(refusal) = refusal_of(repo.challenge_lock(document, viewer, now).await?) {
            return Ok(Some(refusal));
        }
        let failures = repo.address_failures(address, now, WINDOW).await?;
        Ok((failures >= self.per_address).then(|| Refusal::Until(window_end(now))))
    }

    /// Counts a failure of the pair and of the address; the refusal it caused, if any.
    pub async fn failed(
        &self,
        repo: &dyn Repository,
        document: &DocumentId,
        viewer: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Refusal>, RepoError> {
        let lock = repo
            .record_challenge_failure(document, viewer, now, &self.policy)
            .await?;
        let from_address = repo.record_address_failure(address, now, WINDOW).await?;
        tracing::warn!(document = %document.as_str(), viewer, ?lock, address_failures = from_address, "challenge failed");
        if let Some(refusal) = refusal_of(lock) {
            tracing::warn!(document = %document.as_str(), viewer, ?refusal, "viewer locked");
            return Ok(Some(refusal));
        }
        if from_address >= self.per_address {
            tracing::warn!(address, "client address locked for the rest of the hour");
            return Ok(Some(Refusal::Until(window_end(now))));
        }
        Ok(None)
    }
}

fn refusal_of(lock: ChallengeLock) -> Option<Refusal> {
    match lock {
        ChallengeLock::Open { .. } => None,
        ChallengeLock::Locked { until } => Some(Refusal::Until(until)),
        ChallengeLock::UntilReset => Some(Refusal::UntilReset),
    }
}

/// The end of the fixed hour (aligned to the Unix epoch) holding `now`.
fn window_end(now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = WINDOW.num_seconds();
    let start = now.timestamp().div_euclid(secs) * secs;
    DateTime::from_timestamp(start + secs, 0).unwrap_or(now + WINDOW)
}
