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
        let document = codec::document(&row)?;
        sqlx::query("DELETE FROM objects WHERE key = ?")
            .bind(document.object_key.as_str())
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
