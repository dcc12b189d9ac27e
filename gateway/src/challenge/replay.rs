//! Refusing a replayed Digest request counter (`nonce`, `nc`) within the nonce's lifetime.
//!
//! Kept in this gateway's memory: a nonce is good for one document request and a few minutes, so
//! the set stays small. Behind a load balancer without sticky sessions a replay could reach
//! another gateway within that window; README ("Decisions") says so.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Entries kept before expired ones are pruned.
const PRUNE_AT: usize = 10_000;

pub struct ReplayGuard {
    ttl_secs: i64,
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayGuard {
    pub fn new(ttl_secs: i64) -> Self {
        Self {
            ttl_secs,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `key`; `false` when it was already used.
    pub fn first_use(&self, key: &str, now: DateTime<Utc>) -> bool {
        let now = now.timestamp();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= PRUNE_AT {
            // Twice the nonce lifetime: a nonce older than that is refused as stale anyway.
            seen.retain(|_, at| now - *at <= 2 * self.ttl_secs);
        }
        seen.insert(key.to_owned(), now).is_none()
    }
}
