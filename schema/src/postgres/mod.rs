//! The scaled-out database: PostgreSQL, shared by any number of service instances.

mod accounts;
mod deliveries;
mod documents;
mod gateway;
mod logs;
mod migrations;
mod oauth;
mod vault;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::codec::{self, db_error, document_columns, millis, object_columns};
use crate::ids::{DocumentId, ObjectKey, PlaceholderId, ProducerId};
use crate::model::{
    ApiLogRecord, Attempt, AttemptLimits, ChallengeLock, ContentSignature, DocumentRecord,
    GatewayLogLine, GatewayLogRecord, LockPolicy, LogKind, LogLine, LoginSession, OAuthPending,
    ObjectRecord, Producer, PurgedLines, Reservation, VaultLogRecord, ViewerDocument,
};
use crate::repo::{BoxStream, RepoError, Repository};

#[derive(Debug, Clone)]
pub struct PgRepository {
    pool: PgPool,
    /// The record keys documents' viewer data is sealed with (`None`: tools and tests).
    records: Option<std::sync::Arc<crate::cipher::RecordCipher>>,
}

impl PgRepository {
    /// Opens a pool to `postgres://…` (or `postgresql://…`); the database must exist.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let pool = PgPoolOptions::new()
            .connect(url)
            .await
            .map_err(RepoError::Database)?;
        Ok(Self {
            pool,
            records: None,
        })
    }

    /// Seals and opens documents' viewer data and secrets with `records` ([`crate::cipher`]).
    pub fn with_records(
        mut self,
        records: Option<std::sync::Arc<crate::cipher::RecordCipher>>,
    ) -> Self {
        self.records = records;
        self
    }

    /// The record keys, when the repository was opened with them.
    pub(crate) fn records(&self) -> Option<&crate::cipher::RecordCipher> {
        self.records.as_deref()
    }

    /// The underlying pool, for tables other crates keep in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Repository for PgRepository {
    async fn migrate(&self) -> Result<(), RepoError> {
        self.run_migrations().await
    }

    async fn insert_producer(&self, producer: &Producer) -> Result<(), RepoError> {
        self.add_producer(producer).await
    }

    async fn producer_by_public_key(
        &self,
        public_key: &[u8],
    ) -> Result<Option<Producer>, RepoError> {
        self.find_producer_by_public_key(public_key).await
    }

    async fn producer_by_name(&self, name: &str) -> Result<Option<Producer>, RepoError> {
        self.find_producer_by_name(name).await
    }

    async fn count_producers(&self) -> Result<i64, RepoError> {
        self.producer_count().await
    }

    async fn insert_session(&self, session: &LoginSession) -> Result<(), RepoError> {
        self.add_session(session).await
    }

    async fn active_session(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginSession>, RepoError> {
        self.find_active_session(jti, now).await
    }

    async fn revoke_session(&self, jti: &str, now: DateTime<Utc>) -> Result<bool, RepoError> {
        self.mark_session_revoked(jti, now).await
    }

    async fn insert_object(&self, object: &ObjectRecord) -> Result<(), RepoError> {
        sqlx::query(concat!(
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
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn finish_object(&self, key: &ObjectKey, size: i64, sha1: &str) -> Result<(), RepoError> {
        let done = sqlx::query("UPDATE objects SET size = $1, sha1 = $2 WHERE key = $3")
            .bind(size)
            .bind(sha1)
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        codec::updated_one(done.rows_affected())
    }

    async fn object(&self, key: &ObjectKey) -> Result<Option<ObjectRecord>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            object_columns!(),
            " FROM objects WHERE key = $1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::object(&row))
        .transpose()
    }

    async fn delete_object(&self, key: &ObjectKey) -> Result<bool, RepoError> {
        let done = sqlx::query("DELETE FROM objects WHERE key = $1")
            .bind(key.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn sign_object(
        &self,
        key: &ObjectKey,
        signature: &ContentSignature,
    ) -> Result<(), RepoError> {
        self.upsert_object_signature(key, signature).await
    }

    async fn object_signature(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<ContentSignature>, RepoError> {
        self.select_object_signature(key).await
    }

    async fn orphan_objects(
        &self,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<ObjectKey>, RepoError> {
        sqlx::query(
            "SELECT o.key FROM objects o \
             WHERE o.created_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.object_key = o.key) \
             ORDER BY o.created_at, o.key",
        )
        .bind(millis(created_before))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::object_key)
        .collect()
    }

    async fn object_exists(&self, key: &ObjectKey) -> Result<bool, RepoError> {
        let row = sqlx::query("SELECT 1 FROM objects WHERE key = $1")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn insert_document(&self, document: &DocumentRecord) -> Result<(), RepoError> {
        // Built from constant column names only: no value is formatted into the SQL.
        let sql = codec::insert_document_sql(true);
        let sealed = codec::seal_document(document, self.records())?;
        codec::bind_document_insert(sqlx::query(sqlx::AssertSqlSafe(sql)), document, sealed)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn document(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE producer_id = $1 AND id = $2"
        ))
        .bind(producer.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::document(&row, self.records()))
        .transpose()
    }

    async fn list_documents(
        &self,
        producer: &ProducerId,
        after: Option<&DocumentId>,
        limit: u32,
    ) -> Result<Vec<(DocumentId, String)>, RepoError> {
        // `$2 IS NULL OR id > $2`: one statement whether or not a cursor is given.
        sqlx::query(
            "SELECT id, name FROM documents \
             WHERE producer_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(producer.as_str())
        .bind(after.map(DocumentId::as_str))
        .bind(codec::limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(codec::listing)
        .collect()
    }

    async fn delete_document(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        self.delete_where(producer, id, None).await
    }

    async fn delete_document_if(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        self.delete_where(producer, id, Some(millis(expected_last_modified)))
            .await
    }

    async fn replace_document(
        &self,
        document: &DocumentRecord,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        // Built from constant column names only: no value is formatted into the SQL.
        let n = codec::change_column_count();
        let sql = format!(
            "UPDATE documents SET {} WHERE producer_id = ${} AND id = ${} AND last_modified = ${}",
            codec::set_clause(true, 1),
            n + 1,
            n + 2,
            n + 3
        );
        let sealed = codec::seal_document(document, self.records())?;
        let done =
            codec::bind_document_changes(sqlx::query(sqlx::AssertSqlSafe(sql)), document, sealed)
                .bind(document.producer_id.as_str())
                .bind(document.id.as_str())
                .bind(millis(expected_last_modified))
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn expired_documents(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(ProducerId, DocumentId)>, RepoError> {
        sqlx::query("SELECT producer_id, id FROM documents WHERE expiration <= $1 ORDER BY expiration, id LIMIT $2")
            .bind(millis(now))
            .bind(codec::limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(codec::expired)
            .collect()
    }

    async fn document_by_id(&self, id: &DocumentId) -> Result<Option<DocumentRecord>, RepoError> {
        self.find_document_by_id(id).await
    }

    async fn reseal_records(&self) -> Result<u64, RepoError> {
        self.reseal_all_records().await
    }

    async fn objects_not_under(
        &self,
        kek_id: &str,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, RepoError> {
        self.find_objects_not_under(kek_id, limit).await
    }

    async fn rewrap_object(
        &self,
        key: &ObjectKey,
        old_kek_id: &str,
        new_kek_id: &str,
        wrapped_dek: &[u8],
    ) -> Result<bool, RepoError> {
        self.swap_wrapped_key(key, old_kek_id, new_kek_id, wrapped_dek)
            .await
    }

    async fn kek_usage(&self) -> Result<Vec<(String, i64)>, RepoError> {
        self.count_by_kek().await
    }

    async fn append_vault_log(&self, records: &[VaultLogRecord]) -> Result<(), RepoError> {
        self.insert_vault_log(records).await
    }

    async fn vault_log(
        &self,
        producer: &ProducerId,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VaultLogRecord>, RepoError> {
        self.select_vault_log(producer, document, from, to).await
    }

    async fn viewer_document(
        &self,
        placeholder: &PlaceholderId,
    ) -> Result<Option<ViewerDocument>, RepoError> {
        self.select_viewer_document(placeholder).await
    }

    async fn document_audience(
        &self,
        id: &DocumentId,
    ) -> Result<Option<(Option<serde_json::Value>, DateTime<Utc>)>, RepoError> {
        self.select_audience(id).await
    }

    async fn append_gateway_log(
        &self,
        records: &[GatewayLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.insert_gateway_log(records).await
    }

    async fn gateway_log(
        &self,
        producer: Option<&ProducerId>,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<GatewayLogLine>, RepoError> {
        self.select_gateway_log(producer, document, from, to).await
    }

    async fn append_api_log(
        &self,
        records: &[ApiLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.insert_api_log(records).await
    }

    fn export_log<'a>(
        &'a self,
        kind: LogKind,
        producer: &'a ProducerId,
        document: Option<&'a DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxStream<'a, Result<LogLine, RepoError>> {
        self.stream_log(kind, producer, document, from, to)
    }

    async fn purge_log_before(
        &self,
        kind: LogKind,
        before: DateTime<Utc>,
    ) -> Result<PurgedLines, RepoError> {
        self.delete_log_before(kind, before).await
    }

    async fn challenge_lock(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
    ) -> Result<ChallengeLock, RepoError> {
        self.select_challenge_lock(document, viewer, now).await
    }

    async fn record_challenge_failure(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> Result<ChallengeLock, RepoError> {
        self.count_challenge_failure(document, viewer, now, policy)
            .await
    }

    async fn clear_challenge_failures(
        &self,
        document: &DocumentId,
        viewer: &str,
    ) -> Result<(), RepoError> {
        self.delete_challenge_failures(document, viewer).await
    }

    async fn reset_challenge_locks(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
    ) -> Result<u64, RepoError> {
        self.delete_challenge_locks(producer, document).await
    }

    async fn record_address_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        self.count_address_failure(address, now, window).await
    }

    async fn address_failures(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        self.select_address_failures(address, now, window).await
    }

    async fn reserve_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Reservation, RepoError> {
        self.reserve_attempt_row(attempt, limits).await
    }

    async fn release_attempt(
        &self,
        attempt: &Attempt<'_>,
        window: chrono::Duration,
    ) -> Result<(), RepoError> {
        self.release_attempt_row(attempt, window).await
    }

    async fn insert_oauth_pending(
        &self,
        pending: &OAuthPending,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        self.add_oauth_pending(pending, now).await
    }

    async fn take_oauth_pending(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OAuthPending>, RepoError> {
        self.delete_oauth_pending(state_hash, now).await
    }

    async fn insert_delivery(
        &self,
        delivery: &crate::repo::delivery::NewDelivery,
        recipients: &[crate::repo::delivery::NewRecipient],
    ) -> Result<(), RepoError> {
        self.add_delivery(delivery, recipients).await
    }

    async fn delivery(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
        id: &DocumentId,
    ) -> Result<Option<crate::repo::delivery::DeliveryStatus>, RepoError> {
        self.select_delivery(producer, document, id).await
    }

    async fn claim_delivery_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<crate::repo::delivery::ClaimedJob>, RepoError> {
        self.claim_jobs(now, lease_until, limit).await
    }

    async fn finish_delivery_jobs(
        &self,
        finished: &[crate::repo::delivery::FinishedJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepoError> {
        self.finish_jobs(finished, now).await
    }
}
