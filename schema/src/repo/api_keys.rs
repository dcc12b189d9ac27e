//! API keys (issue 16, item 1): see DESIGN, "Producer credentials and environments".

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::credentials::{Environment, Scopes};
use crate::ids::ProducerId;
use crate::repo::RepoError;

/// One API key as stored: its description and the argon2id hash of the key (a PHC string),
/// never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The `keyId` of `sp_{environment}_{keyId}_{secret}`: what a presented key is looked up by.
    pub id: String,
    pub producer_id: ProducerId,
    /// Unique among the producer's unrevoked keys.
    pub name: String,
    pub environment: Environment,
    pub scopes: Scopes,
    /// argon2id of the whole key string, as a PHC string (`$argon2id$v=19$m=…`).
    pub secret_hash: String,
    /// Payload encryption requested (DESIGN, "Payload encryption").
    pub encryption: bool,
    /// The key's own token bucket; `None`: the instance default.
    pub rate_limit: Option<KeyRate>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key's own rate limit: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRate {
    pub per_second: u32,
    pub burst: u32,
}

/// A producer's API keys: their descriptions and argon2id hashes, never a key in clear.
#[async_trait]
pub trait ApiKeyRepo: Send + Sync {
    /// Stores a new key. [`RepoError::Conflict`] with `UniqueKey::ApiKeyName` when the
    /// producer already holds an unrevoked key of that name (`ApiKeyId` for a taken id).
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), RepoError>;

    /// The producer's keys, revoked ones included, oldest first.
    async fn api_keys_of(&self, producer: &ProducerId) -> Result<Vec<ApiKeyRecord>, RepoError>;

    /// The key with this id, whoever's, revoked or expired alike (one primary-key read: the
    /// authentication of every request that presents a key).
    async fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, RepoError>;

    /// Revokes the producer's unrevoked key called `name` at `now`: its id, or `None` when the
    /// producer holds no such key.
    async fn revoke_api_key(
        &self,
        producer: &ProducerId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, RepoError>;

    /// Sets the key's `last_used_at` to `now` unless it is already at or after `not_before`
    /// (so that processes racing to record a use write once): whether it wrote.
    async fn touch_api_key(
        &self,
        id: &str,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
}
