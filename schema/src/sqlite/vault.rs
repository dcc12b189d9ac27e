//! Viewer-side lookups, key rotation and the vault access log (trait methods delegate here).

use chrono::{DateTime, Utc};

use super::SqliteRepository;
use crate::codec::{self, db_error, document_columns, millis, object_columns};
use crate::ids::{DocumentId, ObjectKey, ProducerId};
use crate::model::{ContentSignature, DocumentRecord, ObjectRecord, VaultLogRecord};
use crate::repo::RepoError;

impl SqliteRepository {
    pub(super) async fn upsert_object_signature(
        &self,
        key: &ObjectKey,
        signature: &ContentSignature,
    ) -> Result<(), RepoError> {
        sqlx::query(
            "INSERT INTO object_signatures (object_key, sha256, signature, signature_date) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (object_key) DO UPDATE SET \
             sha256 = excluded.sha256, signature = excluded.signature, \
             signature_date = excluded.signature_date",
        )
        .bind(key.as_str())
        .bind(&signature.sha256)
        .bind(&signature.signature)
        .bind(&signature.signature_date)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn select_object_signature(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<ContentSignature>, RepoError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT sha256, signature, signature_date FROM object_signatures \
             WHERE object_key = ?",
        )
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(
            row.map(|(sha256, signature, signature_date)| ContentSignature {
                sha256,
                signature,
                signature_date,
            }),
        )
    }

    pub(super) async fn find_document_by_id(
        &self,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::document(&row, self.records()))
        .transpose()
    }

    pub(super) async fn find_objects_not_under(
        &self,
        kek_id: &str,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            object_columns!(),
            " FROM objects WHERE kek_id <> ? ORDER BY key LIMIT ?"
        ))
        .bind(kek_id)
        .bind(codec::limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::object)
        .collect()
    }

    pub(super) async fn swap_wrapped_key(
        &self,
        key: &ObjectKey,
        old_kek_id: &str,
        new_kek_id: &str,
        wrapped_dek: &[u8],
    ) -> Result<bool, RepoError> {
        let done = sqlx::query(
            "UPDATE objects SET kek_id = ?, wrapped_dek = ? WHERE key = ? AND kek_id = ?",
        )
        .bind(new_kek_id)
        .bind(wrapped_dek)
        .bind(key.as_str())
        .bind(old_kek_id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn count_by_kek(&self) -> Result<Vec<(String, i64)>, RepoError> {
        sqlx::query("SELECT kek_id, COUNT(*) AS n FROM objects GROUP BY kek_id ORDER BY kek_id")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(codec::kek_count)
            .collect()
    }

    pub(super) async fn select_vault_log(
        &self,
        producer: &ProducerId,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VaultLogRecord>, RepoError> {
        sqlx::query(
            "SELECT producer_id, document_id, time, fields FROM vault_log \
             WHERE producer_id = ? AND time >= ? AND time <= ? \
               AND (? IS NULL OR document_id = ?) ORDER BY seq",
        )
        .bind(producer.as_str())
        .bind(millis(from))
        .bind(millis(to))
        .bind(document.map(DocumentId::as_str))
        .bind(document.map(DocumentId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::vault_log)
        .collect()
    }
}
