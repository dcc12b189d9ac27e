//! The statements of [`NonceUseRepo`]: `digest_nonce_uses` (migration 0017).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::millis;
use crate::repo::{NONCE_HASH_LEN, NonceUseRepo, RepoError};

#[async_trait]
impl<D: Dialect> NonceUseRepo for SqlRepository<D> {
    async fn first_nonce_use(
        &self,
        nonce_hash: &[u8; NONCE_HASH_LEN],
        nc: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        // The primary key decides: a pair inserted before changes no row.
        let inserted = sql(
            "INSERT INTO digest_nonce_uses (nonce_hash, nc, used_at) VALUES ($1, $2, $3) \
             ON CONFLICT (nonce_hash, nc) DO NOTHING",
        )
        .bind(nonce_hash.as_slice())
        .bind(i64::from(nc))
        .bind(millis(at))
        .execute(self.db())
        .await?;
        Ok(inserted == 1)
    }

    async fn prune_nonce_uses(&self, before: DateTime<Utc>) -> Result<u64, RepoError> {
        sql("DELETE FROM digest_nonce_uses WHERE used_at < $1")
            .bind(millis(before))
            .execute(self.db())
            .await
    }
}
