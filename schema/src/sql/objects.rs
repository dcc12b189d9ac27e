//! The vault's objects: one row per stored content with its wrapped data key, the content's
//! signature beside it, and what key rotation and the orphan sweeper ask of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns as _, millis, object_columns};
use crate::ids::ObjectKey;
use crate::model::{ContentSignature, ObjectRecord};
use crate::repo::{ObjectRepo, RepoError};

#[async_trait]
impl<D: Dialect> ObjectRepo for SqlRepository<D> {
    async fn insert_object(&self, object: &ObjectRecord) -> Result<(), RepoError> {
        sql(concat!(
            "INSERT INTO objects (",
            object_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(object.key.as_str())
        .bind(&object.kek_id)
        .bind(&object.wrapped_dek)
        .bind(object.size)
        .bind(object.sha1.as_deref())
        .bind(millis(object.created_at))
        .execute(self.db())
        .await?;
        Ok(())
    }

    async fn finish_object(&self, key: &ObjectKey, size: i64, sha1: &str) -> Result<(), RepoError> {
        let done = sql("UPDATE objects SET size = $1, sha1 = $2, upload_id = NULL WHERE key = $3")
            .bind(size)
            .bind(sha1)
            .bind(key.as_str())
            .execute(self.db())
            .await?;
        codec::updated_one(done)
    }

    async fn record_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), RepoError> {
        let done = sql("UPDATE objects SET upload_id = $1 WHERE key = $2")
            .bind(upload_id)
            .bind(key.as_str())
            .execute(self.db())
            .await?;
        codec::updated_one(done)
    }

    async fn object_upload(&self, key: &ObjectKey) -> Result<Option<String>, RepoError> {
        let row = sql("SELECT upload_id FROM objects WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(self.db())
            .await?;
        Ok(match row {
            Some(row) => row.opt_text("upload_id")?,
            None => None,
        })
    }

    async fn object(&self, key: &ObjectKey) -> Result<Option<ObjectRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            object_columns!(),
            " FROM objects WHERE key = $1"
        ))
        .bind(key.as_str())
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::object(&row))
        .transpose()
    }

    async fn delete_object(&self, key: &ObjectKey) -> Result<bool, RepoError> {
        let done = sql("DELETE FROM objects WHERE key = $1")
            .bind(key.as_str())
            .execute(self.db())
            .await?;
        Ok(done > 0)
    }

    async fn sign_object(
        &self,
        key: &ObjectKey,
        signature: &ContentSignature,
    ) -> Result<(), RepoError> {
        sql(
            "INSERT INTO object_signatures (object_key, sha256, signature, signature_date) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (object_key) DO UPDATE SET \
             sha256 = excluded.sha256, signature = excluded.signature, \
             signature_date = excluded.signature_date",
        )
        .bind(key.as_str())
        .bind(&signature.sha256)
        .bind(&signature.signature)
        .bind(&signature.signature_date)
        .execute(self.db())
        .await?;
        Ok(())
    }

    async fn object_signature(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<ContentSignature>, RepoError> {
        sql(
            "SELECT sha256, signature, signature_date FROM object_signatures \
             WHERE object_key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::signature(&row))
        .transpose()
    }

    async fn orphan_objects(
        &self,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<ObjectKey>, RepoError> {
        sql("SELECT o.key FROM objects o \
             WHERE o.created_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.object_key = o.key) \
             ORDER BY o.created_at, o.key")
        .bind(millis(created_before))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(codec::object_key)
        .collect()
    }

    async fn object_exists(&self, key: &ObjectKey) -> Result<bool, RepoError> {
        let row = sql("SELECT key FROM objects WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    async fn objects_not_under(
        &self,
        kek_id: &str,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            object_columns!(),
            " FROM objects WHERE kek_id <> $1 ORDER BY key LIMIT $2"
        ))
        .bind(kek_id)
        .bind(codec::limit(limit))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(codec::object)
        .collect()
    }

    async fn rewrap_object(
        &self,
        key: &ObjectKey,
        old_kek_id: &str,
        new_kek_id: &str,
        wrapped_dek: &[u8],
    ) -> Result<bool, RepoError> {
        let done =
            sql("UPDATE objects SET kek_id = $1, wrapped_dek = $2 WHERE key = $3 AND kek_id = $4")
                .bind(new_kek_id)
                .bind(wrapped_dek)
                .bind(key.as_str())
                .bind(old_kek_id)
                .execute(self.db())
                .await?;
        Ok(done == 1)
    }

    async fn kek_usage(&self) -> Result<Vec<(String, i64)>, RepoError> {
        sql("SELECT kek_id, COUNT(*) AS n FROM objects GROUP BY kek_id ORDER BY kek_id")
            .fetch_all(self.db())
            .await?
            .iter()
            .map(codec::kek_count)
            .collect()
    }
}
