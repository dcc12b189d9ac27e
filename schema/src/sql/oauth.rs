//! Pending OAuth / OpenID sign-ins (migration 0005): stored when the gateway redirects a viewer
//! to a provider, taken once by the callback (the row mapping and the expiry rule are in
//! `gateway_codec`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::millis;
use crate::gateway_codec::{self as gc, oauth_pending_columns};
use crate::model::OAuthPending;
use crate::repo::{OAuthRepo, RepoError};

#[async_trait]
impl<D: Dialect> OAuthRepo for SqlRepository<D> {
    async fn insert_oauth_pending(
        &self,
        pending: &OAuthPending,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        sql(concat!(
            "INSERT INTO oauth_pending (",
            oauth_pending_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&pending.state_hash)
        .bind(pending.document_id.as_str())
        // The document request carries the viewer-token values (telephone numbers, …): sealed.
        .bind(gc::seal_oauth_request(pending, self.records())?)
        .bind(&pending.pkce_verifier)
        .bind(&pending.nonce)
        .bind(millis(pending.expires_at))
        .execute(self.db())
        .await?;
        // Housekeeping after the sign-in is stored, in a statement of its own: a failed prune
        // (say, SQLite's busy timeout running out, or two PostgreSQL prunes deadlocking on the
        // same rows) must not fail the sign-in, and the rows it left are pruned by the next
        // insert or deleted by a take that finds them expired.
        if let Err(error) = sql("DELETE FROM oauth_pending WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.db())
            .await
        {
            tracing::warn!(%error, "pruning expired OAuth sign-ins failed");
        }
        Ok(())
    }

    async fn take_oauth_pending(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OAuthPending>, RepoError> {
        // One statement, so of two racing takes only the first deletes (and returns) the row:
        // SQLite serializes writers; on PostgreSQL the first locks the row and the second
        // waits for it, then finds it gone.
        sql(concat!(
            "DELETE FROM oauth_pending WHERE state_hash = $1 RETURNING ",
            oauth_pending_columns!()
        ))
        .bind(state_hash)
        .fetch_optional(self.db())
        .await?
        .map(|row| gc::unexpired_oauth_pending(&row, now, self.records()))
        .transpose()
        .map(Option::flatten)
    }
}
