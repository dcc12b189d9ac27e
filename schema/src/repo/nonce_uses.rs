//! The Digest nonce counters gateways accepted (issue 19, item 2): DESIGN, "Scaled out" (a
//! Digest nonce and its counters live in the database, so a replay is refused by every gateway).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::repo::RepoError;

/// Length of the stored nonce digest: the first bytes of its SHA-256.
pub const NONCE_HASH_LEN: usize = 16;

/// `digest_nonce_uses`: one row per `(nonce, nc)` accepted.
#[async_trait]
pub trait NonceUseRepo: Send + Sync {
    /// Records that counter `nc` of the nonce whose digest is `nonce_hash` was used at `at`:
    /// `true` when this is its first use anywhere, `false` when any gateway recorded it before
    /// (a replay). One atomic insert; concurrent uses of one pair see exactly one `true`.
    async fn first_nonce_use(
        &self,
        nonce_hash: &[u8; NONCE_HASH_LEN],
        nc: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;

    /// Deletes the uses recorded before `before` (their nonces are stale by then, so a replay
    /// is refused as stale without them); how many went.
    async fn prune_nonce_uses(&self, before: DateTime<Utc>) -> Result<u64, RepoError>;
}
