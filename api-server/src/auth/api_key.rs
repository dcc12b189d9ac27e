//! API keys (issue 16, item 1): `sp_{live|test}_{keyId}_{secret}`, checked against the
//! argon2id hash stored for `keyId` ([`secret`]), with a verification cache so the hot path
//! does not pay the hash on every request.
//!
//! Every request that presents a key reads the key's row by id (one primary-key read), so a
//! revocation or expiry written by any process sharing the database refuses the very next
//! request everywhere; only the argon2id verification is cached, per process: `keyId` → the
//! SHA-256 of the key that verified and the stored hash it verified against. A key whose
//! digest matches a cache entry for the row's current hash needs no argon2id; a different
//! key under a cached id is refused without one too. The key's payload key
//! ([`crate::payload::PayloadKey`], for a key created with `"encryption": true`) is derived at
//! that verification and cached with it.
//!
//! `lastUsed` has a granularity of one minute ([`LAST_USED_GRANULARITY`]): a request writes
//! it only when the stored value (or this process's last write) is older than that, so the hot
//! path does no write between.

pub mod secret;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use ring::digest::{SHA256, digest};
use schema::repo::ApiKeyRecord;
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::{Credential, Principal, RateLimit};
use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::payload::PayloadKey;

/// How many verified keys a process remembers (each entry is under 200 bytes).
const CACHE_CAPACITY: usize = 10_000;

/// `lastUsed` is written at most once a minute per key.
pub const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// The one refusal of a key that is malformed, unknown, revoked, expired, of another name or
/// environment, or wrong: the caller learns nothing about which.
const KEY_REFUSED: ApiError =
    ApiError::Unauthenticated("the API key is invalid, expired or revoked");

/// A key this process verified against a stored hash.
struct Verified {
    digest: [u8; 32],
    stored_hash: String,
    /// The key's payload key, derived from the key string that verified (used only when the
    /// key requires encryption; never stored or logged).
    payload: PayloadKey,
    /// The last `lastUsed` this process wrote or saw, in milliseconds.
    last_used_ms: AtomicI64,
}

/// The per-process verification cache, and the bound on concurrent argon2id verifications.
pub struct Verifier {
    verified: quick_cache::sync::Cache<String, Arc<Verified>>,
    /// One argon2id at a time per core: a flood of wrong keys under a known id cannot take
    /// more than the cores and 19 MiB each.
    hashing: Semaphore,
}

impl Verifier {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            verified: quick_cache::sync::Cache::new(CACHE_CAPACITY),
            hashing: Semaphore::new(cores),
        }
    }

    /// Drops what this process remembers of key `id` (on revocation; other processes need no
    /// notice, as every request reads the row).
    pub fn forget(&self, id: &str) {
        self.verified.remove(id);
    }

    /// The cache entry for `row` once `key` verifies against its hash: from the cache when
    /// its digest matches, else by argon2id (401 when it does not verify).
    async fn verify(&self, row: &ApiKeyRecord, key: &str) -> Result<Arc<Verified>, ApiError> {
        let presented: [u8; 32] = digest(&SHA256, key.as_bytes())
            .as_ref()
            .try_into()
            .map_err(ApiError::internal)?;
        if let Some(entry) = self.verified.get(row.id.as_str())
            && entry.stored_hash == row.secret_hash
        {
            // The hash verified exactly one key string: another digest is another key.
            return if bool::from(entry.digest.ct_eq(&presented)) {
                Ok(entry)
            } else {
                Err(KEY_REFUSED)
            };
        }
        let _permit = self.hashing.acquire().await.map_err(ApiError::internal)?;
        let payload = PayloadKey::derive(key);
        let key = Zeroizing::new(key.to_owned());
        if !secret::verify(key, row.secret_hash.clone()).await? {
            return Err(KEY_REFUSED);
        }
        let entry = Arc::new(Verified {
            digest: presented,
            stored_hash: row.secret_hash.clone(),
            payload,
            last_used_ms: AtomicI64::new(
                row.last_used_at.map_or(i64::MIN, |t| t.timestamp_millis()),
            ),
        });
        self.verified.insert(row.id.clone(), entry.clone());
        Ok(entry)
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks an API key (`name` when it came as `Bearer base64(name:key)`): 401 unless it is a
/// producer's unrevoked, unexpired key, of that name and of the environment its prefix says.
pub(super) async fn authenticate(
    context: &ApiContext,
    name: Option<&str>,
    key: &str,
    audit: Recorder,
) -> Result<Principal, ApiError> {
    let parsed = secret::parse(key).ok_or(KEY_REFUSED)?;
    let row = context
        .repo
        .api_key_by_id(parsed.id)
        .await?
        .ok_or(KEY_REFUSED)?;
    let now = Utc::now();
    if row.revoked_at.is_some() {
        context.auth.keys.forget(&row.id);
        return Err(KEY_REFUSED);
    }
    let expired = row.expires_at.is_some_and(|at| at <= now);
    let other_name =
        name.is_some_and(|name| !bool::from(name.as_bytes().ct_eq(row.name.as_bytes())));
    if expired || other_name || row.environment != parsed.environment {
        return Err(KEY_REFUSED);
    }
    let entry = context.auth.keys.verify(&row, key).await?;
    record_use(context, &row, &entry, now).await;
    let payload_key = row.encryption.then(|| entry.payload.clone());
    if let Some(payload_key) = &payload_key {
        crate::payload::admit(payload_key)?;
    }
    Ok(Principal {
        producer: row.producer_id,
        operator: format!("key:{}", row.name),
        credential: Credential::ApiKey {
            id: row.id,
            name: row.name,
        },
        scopes: row.scopes,
        environment: row.environment,
        rate: row
            .rate_limit
            .map_or(context.auth.default_rate, |rate| RateLimit {
                per_second: rate.per_second,
                burst: rate.burst,
            }),
        payload_key,
        audit,
    })
}

/// Writes the key's `lastUsed` when the last one (stored, or written by this process) is older
/// than [`LAST_USED_GRANULARITY`]; one request per process wins the right to (the others go on
/// at once), and the statement itself writes only once per window across processes. A failed
/// write is logged, not the request's.
async fn record_use(
    context: &ApiContext,
    row: &ApiKeyRecord,
    entry: &Verified,
    now: DateTime<Utc>,
) {
    let not_before = now - LAST_USED_GRANULARITY;
    let seen = entry.last_used_ms.load(Ordering::Relaxed);
    let stored = row
        .last_used_at
        .map_or(i64::MIN, |at| at.timestamp_millis());
    if seen.max(stored) >= not_before.timestamp_millis()
        || entry
            .last_used_ms
            .compare_exchange(
                seen,
                now.timestamp_millis(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
    {
        return;
    }
    if let Err(error) = context.repo.touch_api_key(&row.id, now, not_before).await {
        tracing::warn!(key_id = %row.id, error = %shared::telemetry::error_chain(&error), "could not record an API key's last use");
    }
}
