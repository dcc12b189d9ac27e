//! Several public keys per producer and single-use login assertions (issue 16, items 3 and 4).

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom as _, SystemRandom};

use super::RepoError;
use crate::ids::ProducerId;
use crate::model::Producer;

/// One of a producer's Ed25519 public keys: a login by PEM or by assertion is checked against
/// these, and its session remembers `id`, so removing the key ends the tokens it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerKey {
    /// 16 lowercase hexadecimal characters (64 random bits), the `keyId` of the API.
    pub id: String,
    pub producer_id: ProducerId,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl ProducerKey {
    /// A new key id: 64 random bits as 16 lowercase hexadecimal characters, the shape
    /// migration 0013 gave the keys producers already had.
    pub fn new_id() -> String {
        let mut bytes = [0u8; 8];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the operating system's random number generator failed");
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The public key as standard base64 (the API's `publicKey`).
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.public_key)
    }
}

/// The most keys a producer may hold: an assertion without `kid` is tried against each, so the
/// work an unauthenticated login can cause stays small.
pub const MAX_KEYS_PER_PRODUCER: i64 = 20;

/// What [`ProducerKeyRepo::remove_producer_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRemoval {
    /// Removed; this many login sessions were revoked with it.
    Removed { sessions_revoked: u64 },
    /// The producer has no key with that id (another producer's key is unknown too).
    Unknown,
    /// It is the producer's last key: nothing changed.
    LastKey,
}

/// A producer's public keys, and the assertion ids already used to log in.
#[async_trait]
pub trait ProducerKeyRepo: Send + Sync {
    /// The producer's keys, oldest first.
    async fn producer_keys(&self, producer: &ProducerId) -> Result<Vec<ProducerKey>, RepoError>;
    /// Adds the key unless its producer holds [`MAX_KEYS_PER_PRODUCER`] already (`false`).
    /// `RepoError::Conflict` on [`super::UniqueKey::ProducerKeyPublicKey`] when the public key
    /// is already a key of any producer (this one included).
    async fn add_producer_key(&self, key: &ProducerKey) -> Result<bool, RepoError>;
    /// Removes the producer's key `key_id` unless it is their last, and in the same
    /// transaction revokes (at `now`) every login session it opened, and every unexpired
    /// session that names no key (opened before keys were recorded, perhaps by this one).
    async fn remove_producer_key(
        &self,
        producer: &ProducerId,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<KeyRemoval, RepoError>;
    /// The producer holding `public_key` among its keys, and that key (PEM login).
    async fn producer_by_key(
        &self,
        public_key: &[u8],
    ) -> Result<Option<(Producer, ProducerKey)>, RepoError>;
    /// The producer named `name` and its keys (assertion login: `iss` is the name).
    async fn producer_with_keys(
        &self,
        name: &str,
    ) -> Result<Option<(Producer, Vec<ProducerKey>)>, RepoError>;
    /// Records that the producer's assertion `jti` was used; it must not be accepted again
    /// before `expires_at` (the assertion's `exp`, after which it is refused anyway, so the
    /// row may go). `RepoError::Conflict` on [`super::UniqueKey::AssertionId`] when it was
    /// used before: a replay. Also deletes the producer's rows that expired before `now`.
    async fn use_assertion(
        &self,
        producer: &ProducerId,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}
