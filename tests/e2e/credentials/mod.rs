//! Producer credentials and environments (issue 16): API keys, scopes, signed-assertion login,
//! producer keys, the IP allowlist, rate limits, live/test.

mod allowlist;
mod api_keys;
mod assertion;
mod environments;
mod producer_keys;
mod rate_limits;
pub mod scopes;
