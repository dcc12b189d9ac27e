//! Refusing a replayed Digest request counter (`nonce`, `nc`) on every gateway.
//!
//! Each accepted pair is one row of the database (`digest_nonce_uses`, migration 0017) that
//! every gateway shares: the insert is the check (the primary key refuses a pair seen before,
//! whichever gateway saw it), so a counter captured from one gateway cannot be replayed to
//! another behind a load balancer (DESIGN, "Scaled out"). Rows are deleted once their nonce is
//! stale anyway; the prune runs on the same path, on one use in [`PRUNE_EVERY`] per process
//! (and on its first), one indexed range delete.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use schema::{NonceUseRepo, RepoError};

use super::digest::CounterUse;

/// One counter use in this many (per process) also deletes expired rows.
const PRUNE_EVERY: u64 = 256;

pub struct ReplayGuard {
    uses: Arc<dyn NonceUseRepo>,
    /// How long a row is kept: twice the nonce lifetime, so gateways whose clocks differ a
    /// little still refuse a replay (a nonce older than one lifetime is refused as stale).
    keep: Duration,
    counted: AtomicU64,
}

impl ReplayGuard {
    pub fn new(uses: Arc<dyn NonceUseRepo>, nonce_ttl_secs: i64) -> Self {
        Self {
            uses,
            keep: Duration::seconds(nonce_ttl_secs.saturating_mul(2)),
            counted: AtomicU64::new(0),
        }
    }

    /// Records `counter`; `false` when any gateway sharing the database used it before.
    pub async fn first_use(
        &self,
        counter: &CounterUse,
        now: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let first = (self.uses)
            .first_nonce_use(&counter.nonce_hash, counter.nc, now)
            .await?;
        if self
            .counted
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            self.prune(now).await;
        }
        Ok(first)
    }

    /// Deletes the rows older than [`Self::keep`]; a failure is logged, not the viewer's
    /// (the next prune takes them).
    async fn prune(&self, now: DateTime<Utc>) {
        if let Err(error) = self.uses.prune_nonce_uses(now - self.keep).await {
            tracing::warn!(error = %shared::telemetry::error_chain(&error), "could not prune used Digest nonce counters");
        }
    }
}
