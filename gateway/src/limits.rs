//! Brute-force limits on document requests, kept in the database so every gateway shares them.
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

use chrono::{DateTime, Utc};
use schema::{Attempt, AttemptLimits, DocumentId, RepoError, Repository, Reservation};

pub use schema::Refusal;

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
        repo: &dyn Repository,
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

    /// The reserved `guess` was right: forget the pair's failures and give the windows back.
    pub async fn release(&self, repo: &dyn Repository, guess: &Guess) -> Result<(), RepoError> {
        repo.release_attempt(&guess.attempt(), self.limits.window)
            .await
    }
}
