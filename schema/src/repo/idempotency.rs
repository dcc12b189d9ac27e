//! The producer API's idempotency keys (issue 21, item 4): DESIGN, "Producer API details the
//! spec lost" (`Idempotency-Key` on `POST /documents`, `POST /documents/{docId}` and
//! `POST /documents/{docId}/deliver`; keys kept 24 hours, per producer).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::credentials::Environment;
use crate::ids::ProducerId;
use crate::repo::RepoError;

/// One key as the API scopes it: a producer's, in one environment.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencySlot<'a> {
    pub producer: &'a ProducerId,
    pub environment: Environment,
    /// The key as the client sent it (1 to 255 printable ASCII characters).
    pub key: &'a str,
}

/// What a reservation is made of.
#[derive(Debug, Clone, Copy)]
pub struct Reserve<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub now: DateTime<Utc>,
    /// When the key is forgotten if the request never completes (and until it is answered).
    pub expires_at: DateTime<Utc>,
    /// A reservation still in progress but last touched before this is abandoned (its process
    /// died mid-request) and taken over.
    pub abandoned_before: DateTime<Utc>,
}

/// The answer kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// The headers that matter (`Location`, `Content-Location`, `Last-Modified`, …).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A request answered before under the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedRequest {
    pub method: String,
    pub path: String,
    /// SHA-256 (lowercase hex) of the body the request sent.
    pub body_sha256: String,
    pub response: StoredResponse,
}

/// What reserving a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyReservation {
    /// The key is this request's now: do the work, then complete or release it.
    Reserved,
    /// Another request holds the key and is still running.
    InProgress,
    /// A request with this key was answered (and the answer kept).
    Completed(Box<CompletedRequest>),
}

/// `idempotency_keys` (migration 0018).
#[async_trait]
pub trait IdempotencyRepo: Send + Sync {
    /// Reserves `slot` for a request: one atomic insert decides between concurrent requests.
    /// An expired row, or an abandoned reservation, is removed first; so are all expired keys
    /// (pruning rides on the writes that add keys).
    async fn reserve_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        reserve: Reserve<'_>,
    ) -> Result<KeyReservation, RepoError>;

    /// Marks the reservation alive at `now` (a long upload refreshes it every minute).
    async fn touch_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// Keeps the answer of the reserved request, whose body hashed to `body_sha256`, until
    /// `expires_at`.
    async fn complete_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        body_sha256: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// Gives a reservation up (the request failed): the key may be used again at once.
    async fn release_idempotency_key(&self, slot: IdempotencySlot<'_>) -> Result<(), RepoError>;

    /// Deletes every key expired at `now`; how many went.
    async fn prune_idempotency_keys(&self, now: DateTime<Utc>) -> Result<u64, RepoError>;
}
