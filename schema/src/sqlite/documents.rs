//! Deleting a document with its object row (the wrapped data key) in one transaction, and the
//! WAL checkpoint that makes the deletion final on disk.

use super::SqliteRepository;
use crate::codec::{self, db_error, document_columns};
use crate::ids::{DocumentId, ProducerId};
use crate::model::DocumentRecord;
use crate::repo::RepoError;

impl SqliteRepository {
    /// Deletes the document row and its object row (the wrapped data key) in one transaction,
    /// when `expected_last_modified` is `None` or still matches.
    pub(super) async fn delete_where(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
        expected_last_modified: Option<i64>,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        // IMMEDIATE: take the write lock up front, so the busy timeout applies to it rather
        // than failing when a read lock would have to be upgraded mid-transaction.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let Some(row) = sqlx::query(concat!(
            "DELETE FROM documents WHERE producer_id = ?1 AND id = ?2 AND (?3 IS NULL OR last_modified = ?3) RETURNING ",
            document_columns!()
        ))
        .bind(producer.as_str())
        .bind(id.as_str())
        .bind(expected_last_modified)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        let document = codec::document(&row, self.records())?;
        sqlx::query("DELETE FROM objects WHERE key = ?")
            .bind(document.object_key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // Its deliveries outlive it (their status stays readable), but not the viewer data and
        // fulfillment secrets they copied: wiped in the same transaction (issue 14, finding 8).
        sqlx::query(
            "UPDATE delivery_jobs SET viewer = '{\"fields\":{},\"token\":[]}' WHERE delivery_id IN \
             (SELECT id FROM deliveries WHERE producer_id = ? AND document_id = ?)",
        )
        .bind(producer.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "UPDATE deliveries SET fulfillment = '{}', secrets = NULL \
             WHERE producer_id = ? AND document_id = ?",
        )
        .bind(producer.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        self.spawn_wal_checkpoint();
        Ok(Some(document))
    }
}

impl SqliteRepository {
    /// Crypto-shredding in WAL mode: `secure_delete` zeroes the deleted row in the new page
    /// image, but older frames of the write-ahead log still hold the page as it was (with the
    /// wrapped data key) until a checkpoint resets the log. This checkpoints and truncates the
    /// log in the background, best effort: under concurrent readers the checkpoint may not
    /// complete, and the next one (or a clean close) finishes the job. Not awaited, so a
    /// DELETE is never delayed by readers.
    fn spawn_wal_checkpoint(&self) {
        let pool = self.pool.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(async move {
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&pool)
                    .await
                {
                    tracing::debug!(%error, "WAL checkpoint after a delete did not run");
                }
            }));
        }
    }
}

impl SqliteRepository {
    /// [`Repository::reseal_records`](crate::Repository::reseal_records): walks the documents
    /// in id order, 100 at a time, and rewrites each value not sealed under the current key,
    /// only where it is still the value read (a racing write wins).
    pub(super) async fn reseal_all_records(&self) -> Result<u64, RepoError> {
        let cipher = self
            .records()
            .ok_or_else(|| RepoError::RecordKeys("no record keys loaded".into()))?;
        let mut after = String::new();
        let mut rewritten = 0;
        loop {
            let prefix = format!(
                "{}{}:",
                crate::cipher::SEALED_PREFIX,
                cipher.keys().current_id()
            );
            let rows = sqlx::query(
                "SELECT id, audience, challenge, fulfillment, metadata FROM documents \
                 WHERE id > ?1 AND ( \
                   (audience IS NOT NULL AND substr(audience, 1, ?2) <> ?3) \
                   OR (challenge IS NOT NULL AND substr(challenge, 1, ?2) <> ?3) \
                   OR (fulfillment IS NOT NULL AND substr(fulfillment, 1, ?2) <> ?3) \
                   OR (metadata IS NOT NULL AND substr(metadata, 1, ?2) <> ?3)) \
                 ORDER BY id LIMIT 100",
            )
            .bind(&after)
            .bind(i64::try_from(prefix.len()).unwrap_or(i64::MAX))
            .bind(&prefix)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let Some(last) = rows.last() else {
                return Ok(rewritten);
            };
            after = codec::Columns::text(last, "id")?;
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
                    // Built from constant column names only: no value is formatted into the SQL.
                    let sql =
                        format!("UPDATE documents SET {column} = ? WHERE id = ? AND {column} = ?");
                    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(new)
                        .bind(&id)
                        .bind(old)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    rewritten += done.rows_affected();
                }
            }
        }
    }
}
