//! Brute-force limits on document requests: the rules, the policy and the [`Limiter`] live in
//! `schema::lockout`, beside the state they keep in the database. Here: how an HTTP Auth guess
//! is held while it is compared, and settled by its outcome (issue 20).
//!
//! A guess is counted before it is compared, in a transaction held open while comparing
//! ([`schema::lockout::Held`]): racing guesses still wait for each other's counts, so however
//! many race, no more are compared than the limits allow (issue 14). Then:
//! - a wrong guess commits its count, durably, before it is answered;
//! - a right one rolls it back: a success writes nothing to the lockout tables, unless the
//!   pair had failures to clear (one delete), where issue 14 committed the count and then a
//!   release (two fsynced commits for a net change of zero);
//! - a Digest pass is a right guess only the first time its `(nonce, nc)` is used on any
//!   gateway: its count is rolled back, the counter recorded (the one write a Digest success
//!   needs) and only then are the pair's failures cleared, so a replayed answer never clears
//!   them; a replay is counted as a failure before it is asked again.

use chrono::{DateTime, Utc};
pub use schema::lockout::{Guess, Held, Limiter, Refusal};

use crate::GatewayService;
use crate::challenge::Outcome;
use crate::error::GatewayError;

/// Holds `guess`: [`GatewayError::Locked`] when a limit is already reached (nothing may be
/// compared), otherwise its count, open until [`settle`].
pub(crate) async fn hold(service: &GatewayService, guess: &Guess) -> Result<Held, GatewayError> {
    (service
        .limiter
        .hold(service.stores.locks.as_ref(), guess)
        .await)?
        .map_err(|refusal| locked(refusal, guess.now))
}

/// Settles a held guess once compared: `give_back` for a right guess (a pass, or the right
/// password under a stale nonce), otherwise its count commits. Returns the outcome, a Digest
/// pass resolved to [`Outcome::Pass`] or, replayed, [`Outcome::Ask`].
pub(crate) async fn settle(
    service: &GatewayService,
    held: Held,
    outcome: Outcome,
    give_back: bool,
    guess: &Guess,
) -> Result<Outcome, GatewayError> {
    if !give_back && !matches!(outcome, Outcome::PassOnce(_)) {
        held.count().await?;
        return Ok(outcome);
    }
    let had_failures = held.had_failures;
    held.give_back().await?;
    if let Outcome::PassOnce(counter) = outcome
        && !service.replays.first_use(&counter, guess.now).await?
    {
        // A replayed counter: a failure, counted before it is answered.
        let locks = service.stores.locks.as_ref();
        (service.limiter.reserve(locks, guess).await)?
            .map_err(|refusal| locked(refusal, guess.now))?;
        return Ok(Outcome::Ask { stale: false });
    }
    if had_failures {
        (service.limiter.clear(service.stores.locks.as_ref(), guess)).await?;
    }
    Ok(match outcome {
        Outcome::PassOnce(_) => Outcome::Pass,
        other => other,
    })
}

fn locked(refusal: Refusal, now: DateTime<Utc>) -> GatewayError {
    GatewayError::Locked {
        retry_after_secs: refusal.retry_after_secs(now),
    }
}
