//! Several public keys per producer and single-use login assertions (issue 16, items 3 and 4).

use async_trait::async_trait;

/// A producer's public keys, and the assertion ids already used to log in.
#[async_trait]
pub trait ProducerKeyRepo: Send + Sync {}
