//! Resealing every document's sealed columns under the current record key
//! ([`DocumentRepo::reseal_records`](crate::repo::DocumentRepo::reseal_records)).

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns as _};
use crate::repo::RepoError;

impl<D: Dialect> SqlRepository<D> {
    /// Walks the documents in id order, 100 at a time, and rewrites each value not sealed
    /// under the current key, only where it is still the value read (a racing write wins).
    pub(super) async fn reseal_all(&self) -> Result<u64, RepoError> {
        let cipher = self
            .records()
            .ok_or_else(|| RepoError::RecordKeys("no record keys loaded".into()))?;
        let prefix = format!(
            "{}{}:",
            crate::cipher::SEALED_PREFIX,
            cipher.keys().current_id()
        );
        let mut after = String::new();
        let mut rewritten = 0;
        loop {
            let rows = sql(D::texts().reseal_page.as_str())
                .bind(&after)
                .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
                .bind(&prefix)
                .fetch_all(self.db())
                .await?;
            let Some(last) = rows.last() else {
                return Ok(rewritten);
            };
            after = last.text("id")?;
            for row in &rows {
                // A value that does not open (a key no longer held, tampering) is left as it
                // is and reported; the others are still resealed.
                let (id, changes) = match codec::reseal_row(row, cipher) {
                    Ok(changes) => changes,
                    Err(error) => {
                        tracing::warn!(%error, "record resealing: a row was left as it is");
                        continue;
                    }
                };
                for (column, old, new) in changes {
                    rewritten += sql(reseal_statement(column)?)
                        .bind(new)
                        .bind(&id)
                        .bind(old)
                        .execute(self.db())
                        .await?;
                }
            }
        }
    }
}

/// The compare-and-swap rewrite of one sealed column.
fn reseal_statement(column: &str) -> Result<&'static str, RepoError> {
    Ok(match column {
        "audience" => "UPDATE documents SET audience = $1 WHERE id = $2 AND audience = $3",
        "challenge" => "UPDATE documents SET challenge = $1 WHERE id = $2 AND challenge = $3",
        "fulfillment" => "UPDATE documents SET fulfillment = $1 WHERE id = $2 AND fulfillment = $3",
        "metadata" => "UPDATE documents SET metadata = $1 WHERE id = $2 AND metadata = $3",
        other => return Err(RepoError::Corrupt(format!("{other}: not a sealed column"))),
    })
}
