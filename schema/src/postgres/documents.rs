//! Deleting a document with its object row (the wrapped data key) in one transaction.

use super::PgRepository;
use crate::codec::{self, db_error, document_columns};
use crate::ids::{DocumentId, ProducerId};
use crate::model::DocumentRecord;
use crate::repo::RepoError;

impl PgRepository {
    /// Deletes the document row and its object row (the wrapped data key) in one transaction,
    /// when `expected_last_modified` is `None` or still matches.
    pub(super) async fn delete_where(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
        expected_last_modified: Option<i64>,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(row) = sqlx::query(concat!(
            "DELETE FROM documents WHERE producer_id = $1 AND id = $2 AND ($3::BIGINT IS NULL OR last_modified = $3) RETURNING ",
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
        sqlx::query("DELETE FROM objects WHERE key = $1")
            .bind(document.object_key.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(document))
    }
}
