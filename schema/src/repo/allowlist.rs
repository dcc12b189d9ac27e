//! The IP allowlist of each producer (issue 16, item 5).

use async_trait::async_trait;

/// A producer's allowlist of CIDRs.
#[async_trait]
pub trait AllowlistRepo: Send + Sync {}
