//! The IP allowlist of each producer (issue 16, item 5): DESIGN, "Producer credentials and
//! environments".

use async_trait::async_trait;
use ipnet::IpNet;

use crate::ids::ProducerId;
use crate::repo::RepoError;

/// A producer's allowlist of CIDRs (`producers.allowlist`, a JSON array of normalised CIDRs);
/// an empty list lifts the restriction.
#[async_trait]
pub trait AllowlistRepo: Send + Sync {
    /// The producer's allowlist (one primary-key read), in the order it was set; empty when it
    /// has none or the producer does not exist.
    async fn allowlist(&self, producer: &ProducerId) -> Result<Vec<IpNet>, RepoError>;

    /// Replaces the producer's allowlist with `list` (stored as given, duplicates and order
    /// kept): `false` when the producer does not exist.
    async fn set_allowlist(&self, producer: &ProducerId, list: &[IpNet])
    -> Result<bool, RepoError>;
}
