//! API keys (issue 16, item 1): see DESIGN, "Producer credentials and environments".

use async_trait::async_trait;

/// A producer's API keys: their descriptions and argon2id hashes, never a key in clear.
#[async_trait]
pub trait ApiKeyRepo: Send + Sync {}
