//! What both dialects share for the gateway's tables (migrations 0003 and 0005): the row →
//! record mapping (the challenge, the audience and pending OAuth requests opened or sealed with
//! the record cipher), the gateway's log line, the brute-force lock rules, the attempt windows
//! per client address and per document, the decision on a reserved guess, and when a pending
//! OAuth sign-in counts as expired.
//!
//! The lock rules live here, in Rust, rather than in SQL: each dialect only counts the attempt
//! in its upserts (which hold the rows' locks until the transaction ends), asks [`decide`]
//! whether the reservation stands, and then writes back what [`after_failure`] decided, so the
//! two databases cannot disagree on when a pair locks or a window is full.

use chrono::{DateTime, Utc};

use crate::cipher::RecordCipher;
use crate::codec::{Columns, millis, parsed, sealed_json, sealed_object};
use crate::ids::DocumentId;
use crate::model::{
    AttemptLimits, ChallengeLock, GatewayLogLine, GatewayLogRecord, LockPolicy, OAuthPending,
    Refusal, ViewerDocument,
};
use crate::objects::Typed;
use crate::repo::RepoError;

/// The columns [`viewer_document`] reads besides `has_audience`, which each dialect computes
/// as an integer 0/1 from the audience's type (never reading the audience itself).
macro_rules! viewer_document_columns {
    () => {
        "id, producer_id, placeholder_id, object_key, name, media_type, expiration, challenge, \
         landingpage, last_modified, access_version"
    };
}
/// The columns [`failure_counts`] reads.
macro_rules! failure_columns {
    () => {
        "failures, total, locks, locked_until, until_reset"
    };
}
/// The columns [`oauth_pending`] reads, also the insertion order of `insert_oauth_pending`.
macro_rules! oauth_pending_columns {
    () => {
        "state_hash, document_id, request, pkce_verifier, nonce, expires_at"
    };
}
pub(crate) use {failure_columns, oauth_pending_columns, viewer_document_columns};

/// The gateway's view of a document; its challenge opened with `cipher`, it and the landing
/// page parsed (a stored one that no longer parses is [`RepoError::Corrupt`]).
pub(crate) fn viewer_document(
    row: &impl Columns,
    cipher: Option<&RecordCipher>,
) -> Result<ViewerDocument, RepoError> {
    let id: crate::ids::DocumentId = row.id("id")?;
    Ok(ViewerDocument {
        challenge: sealed_object(row, id.as_str(), cipher)?.map(Typed::into_value),
        id,
        producer_id: row.id("producer_id")?,
        placeholder_id: row.id("placeholder_id")?,
        object_key: row.id("object_key")?,
        name: row.text("name")?,
        media_type: row.text("media_type")?,
        expiration: row.time("expiration")?,
        has_audience: row.int("has_audience")? != 0,
        landingpage: parsed(row.json("landingpage")?)?.map(Typed::into_value),
        last_modified: row.time("last_modified")?,
        access_version: row.int("access_version")?,
    })
}

/// `(audience, last_modified)` of document `document`, the audience opened with `cipher`.
pub(crate) fn audience(
    row: &impl Columns,
    document: &str,
    cipher: Option<&RecordCipher>,
) -> Result<(Option<serde_json::Value>, DateTime<Utc>), RepoError> {
    Ok((
        sealed_json(row, "audience", document, cipher)?,
        row.time("last_modified")?,
    ))
}

pub(crate) fn gateway_log_line(row: &impl Columns) -> Result<GatewayLogLine, RepoError> {
    Ok(GatewayLogLine {
        producer_id: row.opt_id("producer_id")?,
        document_id: row.opt_id("document_id")?,
        time: row.time("time")?,
        hit: row.opt_int("hit")?,
        fields: row.text("fields")?,
    })
}

/// The stored line: the record's seven columns, then hit-number and publisher-id (`-` when
/// absent).
pub(crate) fn log_fields(record: &GatewayLogRecord, hit: Option<i64>) -> String {
    let hit = hit.map_or_else(|| "-".to_owned(), |hit| hit.to_string());
    let producer = record.producer_id.as_ref().map_or("-", |id| id.as_str());
    format!("{}\t{hit}\t{producer}", record.head)
}

/// What a pending sign-in's sealed request is bound to (with the column name).
fn oauth_aad(state_hash: &str) -> String {
    format!("oauth_pending {state_hash}")
}

/// A pending sign-in's document request as stored: the JSON string of the request, sealed under
/// the record keys when held (its query holds the viewer-token values).
pub(crate) fn seal_oauth_request(
    pending: &OAuthPending,
    cipher: Option<&RecordCipher>,
) -> Result<Option<String>, RepoError> {
    let request = serde_json::Value::String(pending.request.clone());
    crate::codec::seal_value(
        cipher,
        &oauth_aad(&pending.state_hash),
        "request",
        Some(&request),
    )
}

/// A taken `oauth_pending` row, `None` when it had expired at `now` (an expiry at `now` is
/// expired, like a login session's).
pub(crate) fn unexpired_oauth_pending(
    row: &impl Columns,
    now: DateTime<Utc>,
    cipher: Option<&RecordCipher>,
) -> Result<Option<OAuthPending>, RepoError> {
    let state_hash = row.text("state_hash")?;
    // A row written before sealing holds the request itself (pending rows live minutes).
    let stored = row.text("request")?;
    let request = if crate::cipher::is_sealed(&stored) {
        match sealed_json(row, "request", &oauth_aad(&state_hash), cipher)? {
            Some(serde_json::Value::String(request)) => request,
            _ => return Err(RepoError::Corrupt("oauth_pending.request".into())),
        }
    } else {
        stored
    };
    let pending = OAuthPending {
        state_hash,
        document_id: row.id("document_id")?,
        request,
        pkce_verifier: row.text("pkce_verifier")?,
        nonce: row.text("nonce")?,
        expires_at: row.time("expires_at")?,
    };
    Ok((pending.expires_at > now).then_some(pending))
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
