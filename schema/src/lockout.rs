//! Brute-force limits on document requests, all in one place: the policy and its types, the
//! rules that decide when a (document, viewer) pair locks and when a window is full, and the
//! [`Limiter`] the gateway reserves each guess with. The state is kept in the database
//! ([`LockoutRepo`], implemented in `crate::sql::lockout`), so every gateway shares it.
//!
//! Per (document, viewer): after `failures_per_lock` failures the pair is locked, for
//! `first_lock` doubling on each further lock up to `max_lock`; after `hard_cap` failures in all
//! it stays locked until the producer resets it. Per client address: at most `per_address`
//! failures in each fixed hour; per document, at most `per_document` (from all addresses).
//!
//! Every guess — a password to compare, or a viewer token to look up when the answer would
//! tell whether it names a member — is *reserved* first: counted as a failure in one database
//! transaction that refuses it instead when a limit is reached (issue 14, finding 1). Only a
//! granted guess is compared, so concurrency cannot take more guesses than the limits allow,
//! and a success gives its reservation back. Every refusal and lock is logged (tracing, with the
//! document id and the viewer's digest, never the values).
//!
//! The rules are Rust, not SQL: the statements only count the attempt in their upserts (which
//! hold the rows' locks until the transaction ends), ask `decide` whether the reservation
//! stands, and write back what `after_failure` decided, so the two databases cannot disagree
//! on when a pair locks or a window is full.

use chrono::{DateTime, Utc};

use crate::codec::{Columns, millis};
use crate::ids::DocumentId;
use crate::repo::{LockoutRepo, RepoError};

/// The columns [`failure_counts`] reads.
macro_rules! failure_columns {
    () => {
        "failures, total, locks, locked_until, until_reset"
    };
}
pub(crate) use failure_columns;

/// Brute-force limits for one (document, viewer) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    /// Failures (since the last lock or success) that lock the pair. Default 5.
    pub failures_per_lock: u32,
    /// First lock length; each further lock doubles it. Default 15 min.
    pub first_lock: chrono::Duration,
    /// Longest lock. Default 24 h.
    pub max_lock: chrono::Duration,
    /// Failures in all (since the last success or producer reset) after which the pair stays
    /// locked until the producer resets it. Default 50.
    pub hard_cap: u32,
}

impl Default for LockPolicy {
    fn default() -> Self {
        Self {
            failures_per_lock: 5,
            first_lock: chrono::Duration::minutes(15),
            max_lock: chrono::Duration::hours(24),
            hard_cap: 50,
        }
    }
}

/// The state of a (document, viewer) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeLock {
    /// Not locked; `failures` counted since the last lock or success.
    Open {
        failures: u32,
    },
    Locked {
        until: DateTime<Utc>,
    },
    /// The hard cap was reached: only the producer's reset opens it.
    UntilReset,
}

/// Every limit one guess at a document request is held to (issue 14, findings 1 and 2): the
/// pair's locks, and fixed windows per client address and per document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    pub policy: LockPolicy,
    /// Attempts counted per client address in each window.
    pub per_address: u32,
    /// Attempts counted per document (from every address) in each window.
    pub per_document: u32,
    /// The windows' length (an hour), aligned to the Unix epoch.
    pub window: chrono::Duration,
}

/// One guess at a document request: the document, the (document, viewer) pair when a password
/// is to be compared (`None` when only a viewer token is), the client address and the time.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub document: &'a DocumentId,
    pub viewer: Option<&'a str>,
    pub address: &'a str,
    pub now: DateTime<Utc>,
}

/// Why an attempt may not be made, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Until(DateTime<Utc>),
    /// The pair reached the hard cap: locked until the producer resets it.
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

/// What reserving an attempt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A limit is reached: nothing was counted, nothing may be compared.
    Refused(Refusal),
    /// The attempt is counted as a failure already; compare now. `then` is the refusal the
    /// counting itself caused (the pair locked, a window filled): what a wrong guess answers.
    /// A success gives the attempt back (`release_attempt`).
    Granted { then: Option<Refusal> },
}

/// What holding an attempt gave ([`LockoutRepo::hold_attempt`]).
pub enum Hold {
    /// A limit is reached: nothing was counted, nothing may be compared.
    Refused(Refusal),
    /// Counted, not yet committed: compare now, then settle it.
    Granted(Held),
}

/// A granted attempt whose count is held open (issue 20): counted in a transaction that keeps
/// the counted rows locked (SQLite: the database's write lock) until it is settled, so racing
/// guesses are still decided one after the other, each seeing the last's count. A wrong guess
/// commits it ([`Held::count`]) before it is answered; a right one rolls it back
/// ([`Held::give_back`]): a success writes nothing unless there were failures to clear.
/// Dropped unsettled, it rolls back (the request was abandoned before any answer).
pub struct Held {
    /// The refusal a wrong guess answers with, if counting it reached a limit.
    pub then: Option<Refusal>,
    /// Whether the (document, viewer) pair had failures before this guess: a success clears
    /// them ([`Limiter::clear`]).
    pub had_failures: bool,
    count: Box<dyn HeldCount>,
}

impl Held {
    pub(crate) fn new(
        then: Option<Refusal>,
        had_failures: bool,
        count: Box<dyn HeldCount>,
    ) -> Self {
        Self {
            then,
            had_failures,
            count,
        }
    }

    /// A wrong guess: the count commits (durably) before the answer.
    pub async fn count(self) -> Result<(), RepoError> {
        self.count.commit().await
    }

    /// A right guess: the count is rolled back, nothing was written.
    pub async fn give_back(self) -> Result<(), RepoError> {
        self.count.rollback().await
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("then", &self.then)
            .field("had_failures", &self.had_failures)
            .finish_non_exhaustive()
    }
}

/// The open transaction behind a [`Held`] attempt.
#[async_trait::async_trait]
pub(crate) trait HeldCount: Send {
    async fn commit(self: Box<Self>) -> Result<(), RepoError>;
    async fn rollback(self: Box<Self>) -> Result<(), RepoError>;
}

#[derive(Debug, Clone, Copy)]
pub struct Limiter {
    pub limits: AttemptLimits,
}

/// A guess about to be made: what is reserved, and given back on success.
#[derive(Debug, Clone)]
pub struct Guess {
    pub document: DocumentId,
    /// The (document, viewer) pair's viewer when a password is to be compared.
    pub viewer: Option<String>,
    pub address: String,
    pub now: DateTime<Utc>,
}

impl Guess {
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            document: &self.document,
            viewer: self.viewer.as_deref(),
            address: &self.address,
            now: self.now,
        }
    }
}

impl Limiter {
    /// Reserves `guess`: `Err(refusal)` when a limit is reached (nothing may be compared),
    /// otherwise the refusal a wrong guess answers with, if counting it reached a limit.
    pub async fn reserve(
        &self,
        repo: &dyn LockoutRepo,
        guess: &Guess,
    ) -> Result<Result<Option<Refusal>, Refusal>, RepoError> {
        let document = guess.document.as_str();
        let viewer = guess.viewer.as_deref().unwrap_or("-");
        match repo.reserve_attempt(&guess.attempt(), &self.limits).await? {
            Reservation::Refused(refusal) => {
                tracing::warn!(document, viewer, address = %guess.address, ?refusal, "guess refused");
                Ok(Err(refusal))
            }
            Reservation::Granted { then } => {
                if let Some(refusal) = then {
                    tracing::warn!(document, viewer, address = %guess.address, ?refusal, "limit reached");
                }
                Ok(Ok(then))
            }
        }
    }

    /// Holds `guess` ([`Held`]): `Err(refusal)` when a limit is reached (nothing may be
    /// compared), otherwise the count, held open while the guess is compared.
    pub async fn hold(
        &self,
        repo: &dyn LockoutRepo,
        guess: &Guess,
    ) -> Result<Result<Held, Refusal>, RepoError> {
        let document = guess.document.as_str();
        let viewer = guess.viewer.as_deref().unwrap_or("-");
        match repo.hold_attempt(&guess.attempt(), &self.limits).await? {
            Hold::Refused(refusal) => {
                tracing::warn!(document, viewer, address = %guess.address, ?refusal, "guess refused");
                Ok(Err(refusal))
            }
            Hold::Granted(held) => {
                if let Some(refusal) = held.then {
                    tracing::warn!(document, viewer, address = %guess.address, ?refusal, "limit reached");
                }
                Ok(Ok(held))
            }
        }
    }

    /// A right guess whose pair had failures ([`Held::had_failures`]): forget them (not a
    /// hard-cap lock, which only the producer's reset opens).
    pub async fn clear(&self, repo: &dyn LockoutRepo, guess: &Guess) -> Result<(), RepoError> {
        match guess.viewer.as_deref() {
            Some(viewer) => repo.clear_challenge_failures(&guess.document, viewer).await,
            None => Ok(()),
        }
    }

    /// A guess found right before anything was compared (a viewer token naming a member):
    /// `Err(refusal)` when a reservation would be refused now ([`LockoutRepo::check_attempt`]).
    /// Writes nothing (issue 20: a member's request cost two fsynced commits, reserve then
    /// release, for a net change of zero: ~700 req/s against ~11,000 now, same machine).
    pub async fn check(
        &self,
        repo: &dyn LockoutRepo,
        guess: &Guess,
    ) -> Result<Result<(), Refusal>, RepoError> {
        match repo.check_attempt(&guess.attempt(), &self.limits).await? {
            Some(refusal) => {
                let document = guess.document.as_str();
                tracing::warn!(document, address = %guess.address, ?refusal, "guess refused");
                Ok(Err(refusal))
            }
            None => Ok(Ok(())),
        }
    }

    /// The reserved `guess` was right: forget the pair's failures and give the windows back.
    pub async fn release(&self, repo: &dyn LockoutRepo, guess: &Guess) -> Result<(), RepoError> {
        repo.release_attempt(&guess.attempt(), self.limits.window)
            .await
    }
}

/// One `challenge_failures` row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailureCounts {
    /// Since the last lock or success.
    failures: i64,
    /// Since the last success or reset.
    total: i64,
    /// Locks since the last success or reset.
    locks: i64,
    locked_until: Option<i64>,
    until_reset: bool,
}

pub(crate) fn failure_counts(row: &impl Columns) -> Result<FailureCounts, RepoError> {
    Ok(FailureCounts {
        failures: row.int("failures")?,
        total: row.int("total")?,
        locks: row.int("locks")?,
        locked_until: row.opt_int("locked_until")?,
        until_reset: row.int("until_reset")? != 0,
    })
}

/// Whether the pair had failures (or locks) before the attempt these counts include.
pub(crate) fn had_failures(counts: &FailureCounts) -> bool {
    counts.total > 1 || counts.locks > 0 || counts.until_reset
}

/// The state of a pair at `now`; no row is a pair that never failed.
pub(crate) fn lock_state(
    counts: Option<&FailureCounts>,
    now: DateTime<Utc>,
) -> Result<ChallengeLock, RepoError> {
    let Some(counts) = counts else {
        return Ok(ChallengeLock::Open { failures: 0 });
    };
    if counts.until_reset {
        return Ok(ChallengeLock::UntilReset);
    }
    match counts.locked_until {
        Some(until) if until > millis(now) => Ok(ChallengeLock::Locked {
            until: time("locked_until", until)?,
        }),
        _ => Ok(ChallengeLock::Open {
            failures: count("failures", counts.failures)?,
        }),
    }
}

/// What to write after a failure was counted (the row as the counting upsert returned it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Nothing more to write.
    Keep,
    /// Lock until this millisecond: `failures = 0, locks = locks + 1, locked_until = until`.
    Lock(i64),
    /// The hard cap is reached: `until_reset = 1`.
    UntilReset,
}

pub(crate) fn after_failure(
    counts: &FailureCounts,
    now: DateTime<Utc>,
    policy: &LockPolicy,
) -> AfterFailure {
    if counts.until_reset {
        AfterFailure::Keep
    } else if counts.total >= i64::from(policy.hard_cap) {
        AfterFailure::UntilReset
    } else if counts.failures >= i64::from(policy.failures_per_lock) {
        AfterFailure::Lock(millis(now).saturating_add(lock_length_ms(policy, counts.locks)))
    } else {
        AfterFailure::Keep
    }
}

/// The counts once `step` is written, for [`lock_state`].
pub(crate) fn apply(counts: FailureCounts, step: AfterFailure) -> FailureCounts {
    match step {
        AfterFailure::Keep => counts,
        AfterFailure::Lock(until) => FailureCounts {
            failures: 0,
            locks: counts.locks.saturating_add(1),
            locked_until: Some(until),
            ..counts
        },
        AfterFailure::UntilReset => FailureCounts {
            until_reset: true,
            ..counts
        },
    }
}

/// `first_lock * 2^locks_before`, capped at `max_lock`, in milliseconds (never negative).
fn lock_length_ms(policy: &LockPolicy, locks_before: i64) -> i64 {
    let max = policy.max_lock.num_milliseconds().max(0);
    let mut length = policy.first_lock.num_milliseconds().clamp(0, max);
    let mut doublings = locks_before;
    while doublings > 0 && length < max {
        length = length.saturating_mul(2).min(max);
        doublings -= 1;
    }
    length
}

/// The window holding `now`: `(start, length)` in milliseconds, aligned to the Unix epoch; a
/// window shorter than 1 ms counts as 1 ms.
pub(crate) fn address_window(now: DateTime<Utc>, window: chrono::Duration) -> (i64, i64) {
    let length = window.num_milliseconds().max(1);
    (millis(now).div_euclid(length) * length, length)
}

/// The key of a document's attempt windows in `address_failures` (a client address, the only
/// other key, never starts so).
pub(crate) fn document_window_key(document: &DocumentId) -> String {
    format!("document:{}", document.as_str())
}

/// Whether a reserved attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Roll the counting back and refuse.
    Refuse(Refusal),
    /// Write `step` for the pair and commit; `then` is what a wrong guess answers.
    Grant {
        step: AfterFailure,
        then: Option<Refusal>,
    },
}

/// Decides a reservation from the counts the counting upserts returned, each including this
/// attempt: the pair's row (when a password is to be compared) and the address's and the
/// document's counts in the window holding `now`. Refused when the pair was locked or a
/// window was already full before this attempt.
pub(crate) fn decide(
    pair: Option<&FailureCounts>,
    address: i64,
    document: i64,
    now: DateTime<Utc>,
    limits: &AttemptLimits,
) -> Result<Decision, RepoError> {
    let (start, length) = address_window(now, limits.window);
    let window_end = Refusal::Until(time("window_end", start.saturating_add(length))?);
    let full =
        |count: i64, limit: u32, before: i64| count.saturating_sub(before) >= i64::from(limit);
    if let Some(counts) = pair {
        match lock_state(Some(counts), now)? {
            ChallengeLock::Open { .. } => {}
            ChallengeLock::Locked { until } => return Ok(Decision::Refuse(Refusal::Until(until))),
            ChallengeLock::UntilReset => return Ok(Decision::Refuse(Refusal::UntilReset)),
        }
    }
    if full(address, limits.per_address, 1) || full(document, limits.per_document, 1) {
        return Ok(Decision::Refuse(window_end));
    }
    let step = pair.map_or(AfterFailure::Keep, |counts| {
        after_failure(counts, now, &limits.policy)
    });
    let then = match pair.map(|counts| lock_state(Some(&apply(*counts, step)), now)) {
        Some(Ok(ChallengeLock::Locked { until })) => Some(Refusal::Until(until)),
        Some(Ok(ChallengeLock::UntilReset)) => Some(Refusal::UntilReset),
        Some(Err(error)) => return Err(error),
        _ if full(address, limits.per_address, 0) || full(document, limits.per_document, 0) => {
            Some(window_end)
        }
        _ => None,
    };
    Ok(Decision::Grant { step, then })
}

/// A stored count as the `u32` the trait returns: negative is corrupt, beyond `u32` saturates.
pub(crate) fn count(column: &str, value: i64) -> Result<u32, RepoError> {
    if value < 0 {
        return Err(RepoError::Corrupt(format!("{column}: negative count")));
    }
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

fn time(column: &str, ms: i64) -> Result<DateTime<Utc>, RepoError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| RepoError::Corrupt(format!("{column}: time out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockPolicy {
        LockPolicy::default()
    }

    #[test]
    fn lock_lengths_double_up_to_the_cap() {
        let minutes: Vec<i64> = (0..10)
            .map(|locks| lock_length_ms(&policy(), locks) / 60_000)
            .collect();
        assert_eq!(minutes, [15, 30, 60, 120, 240, 480, 960, 1440, 1440, 1440]);
        assert_eq!(lock_length_ms(&policy(), i64::MAX), 24 * 60 * 60_000);
    }

    #[test]
    fn windows_align_to_the_epoch() {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let ten = chrono::Duration::milliseconds(10);
        assert_eq!(address_window(at(25), ten), (20, 10));
        assert_eq!(address_window(at(-1), ten), (-10, 10));
        assert_eq!(address_window(at(7), chrono::Duration::zero()), (7, 1));
    }
}
