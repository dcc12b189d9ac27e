//! API keys (issue 16, item 1): `sp_{live|test}_{keyId}_{secret}`, checked against the
//! argon2id hash stored for `keyId`, with a verification cache so the hot path does not pay
//! the hash on every request.

use super::Principal;
use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;

/// The per-process verification cache.
pub struct Verifier {}

impl Verifier {
    pub fn new() -> Self {
        Self {}
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks an API key (`name` when it came as `Bearer base64(name:key)`): 401 unless it is a
/// producer's unrevoked, unexpired key.
pub(super) async fn authenticate(
    _context: &ApiContext,
    _name: Option<&str>,
    _key: &str,
    _audit: Recorder,
) -> Result<Principal, ApiError> {
    Err(ApiError::Unauthenticated("API keys are not accepted yet"))
}
