//! Pending OAuth / OpenID sign-ins (migration 0005): stored when the gateway redirects a viewer
//! to a provider, taken once by the callback (trait methods delegate here; the row mapping and
//! the expiry rule are in `gateway_codec`).

use chrono::{DateTime, Utc};

use super::SqliteRepository;
use crate::codec::{db_error, millis};
use crate::gateway_codec::{self as gc, oauth_pending_columns};
use crate::model::OAuthPending;
use crate::repo::RepoError;

impl SqliteRepository {
    pub(super) async fn add_oauth_pending(
        &self,
        pending: &OAuthPending,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO oauth_pending (",
            oauth_pending_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(&pending.state_hash)
        .bind(pending.document_id.as_str())
        // The document request carries the viewer-token values (telephone numbers, …): sealed.
        .bind(gc::seal_oauth_request(pending, self.records())?)
        .bind(&pending.pkce_verifier)
        .bind(&pending.nonce)
        .bind(millis(pending.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        // Housekeeping after the sign-in is stored, in a statement of its own: a failed prune
        // (say, the busy timeout running out) must not fail the sign-in, and the rows it left
        // are pruned by the next insert or deleted by a take that finds them expired.
        if let Err(error) = sqlx::query("DELETE FROM oauth_pending WHERE expires_at <= ?")
            .bind(millis(now))
            .execute(&self.pool)
            .await
        {
            tracing::warn!(%error, "pruning expired OAuth sign-ins failed");
        }
        Ok(())
    }

    pub(super) async fn delete_oauth_pending(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OAuthPending>, RepoError> {
        // One statement: SQLite serializes writers, so of two racing takes only the first
        // deletes (and returns) the row; the second finds nothing.
        sqlx::query(concat!(
            "DELETE FROM oauth_pending WHERE state_hash = ? RETURNING ",
            oauth_pending_columns!()
        ))
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| gc::unexpired_oauth_pending(&row, now, self.records()))
        .transpose()
        .map(Option::flatten)
    }
}
