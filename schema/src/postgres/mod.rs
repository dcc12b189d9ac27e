//! The scaled-out database: PostgreSQL, shared by any number of service instances.

mod vault;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::codec::{
    self, db_error, document_columns, millis, object_columns, producer_columns, session_columns,
};
use crate::ids::{DocumentId, ObjectKey, ProducerId};
use crate::model::{DocumentRecord, LoginSession, ObjectRecord, Producer, VaultLogRecord};
use crate::repo::{RepoError, Repository};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "vault",
        include_str!("../../migrations/postgres/0002_vault.sql"),
    ),
];

#[derive(Debug, Clone)]
pub struct PgRepository {
    pool: PgPool,
}

impl PgRepository {
    /// Opens a pool to `postgres://…` (or `postgresql://…`); the database must exist.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let pool = PgPoolOptions::new()
            .connect(url)
            .await
            .map_err(RepoError::Database)?;
        Ok(Self { pool })
    }

    /// The underlying pool, for tables other crates keep in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Repository for PgRepository {
    async fn migrate(&self) -> Result<(), RepoError> {
        // sqlx's PostgreSQL migrator takes an advisory lock for the run, so instances starting
        // together apply each migration once.
        codec::migrator(MIGRATIONS)
            .run(&self.pool)
            .await
            .map_err(RepoError::Migrate)
    }

    async fn insert_producer(&self, producer: &Producer) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO producers (",
            producer_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(producer.id.as_str())
        .bind(&producer.name)
        .bind(producer.email.as_deref())
        .bind(&producer.public_key)
        .bind(millis(producer.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn producer_by_public_key(
        &self,
        public_key: &[u8],
    ) -> Result<Option<Producer>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            producer_columns!(),
            " FROM producers WHERE public_key = $1"
        ))
        .bind(public_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::producer(&row))
        .transpose()
    }

    async fn producer_by_name(&self, name: &str) -> Result<Option<Producer>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            producer_columns!(),
            " FROM producers WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::producer(&row))
        .transpose()
    }

    async fn count_producers(&self) -> Result<i64, RepoError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM producers")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn insert_session(&self, session: &LoginSession) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO login_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&session.jti)
        .bind(session.producer_id.as_str())
        .bind(&session.email)
        .bind(millis(session.issued_at))
        .bind(millis(session.expires_at))
        .bind(session.revoked_at.map(millis))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn active_session(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginSession>, RepoError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM login_sessions WHERE jti = $1 AND revoked_at IS NULL AND expires_at > $2"
        ))
        .bind(jti)
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::session(&row))
        .transpose()
    }

    async fn revoke_session(&self, jti: &str, now: DateTime<Utc>) -> Result<bool, RepoError> {
        let done = sqlx::query(
            "UPDATE login_sessions SET revoked_at = $1 \
             WHERE jti = $2 AND revoked_at IS NULL AND expires_at > $3",
        )
        .bind(millis(now))
        .bind(jti)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
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
        codec::bind_document_insert(sqlx::query(sqlx::AssertSqlSafe(sql)), document)
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
        .map(|row| codec::document(&row))
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
        let sql = format!(
            "UPDATE documents SET {} WHERE producer_id = $15 AND id = $16 AND last_modified = $17",
            codec::set_clause(true, 1)
        );
        let done = codec::bind_document_changes(sqlx::query(sqlx::AssertSqlSafe(sql)), document)
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
}

impl PgRepository {
    /// Deletes the document row and its object row (the wrapped data key) in one transaction,
    /// when `expected_last_modified` is `None` or still matches.
    async fn delete_where(
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
