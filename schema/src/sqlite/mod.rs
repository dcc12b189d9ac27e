//! The embedded default: one SQLite file, shared by every process of an instance.

use std::str::FromStr;
use std::time::Duration;

mod vault;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

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
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "vault",
        include_str!("../../migrations/sqlite/0002_vault.sql"),
    ),
];

/// How long a statement waits for another connection's or process's write lock before failing
/// with "database is locked": `sealpost producer add` or `vault rotate-key` may write while
/// `sealpost up` runs.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SqliteRepository {
    pool: SqlitePool,
}

impl SqliteRepository {
    /// Opens `sqlite:PATH` (or `sqlite://PATH`), creating the file when missing.
    ///
    /// - WAL journal: readers never block the writer nor each other, across processes.
    /// - `synchronous = FULL`: every commit is fsynced before it returns. In WAL mode `NORMAL`
    ///   keeps the file consistent but may lose the last commits on power loss; here a commit
    ///   is a promise made to someone (an audit record the request waited for, a deletion
    ///   reported as done, an upload acknowledged), so it must survive a crash.
    /// - `secure_delete = on`: a deleted row's bytes are overwritten with zeros, so a deleted
    ///   object's wrapped data key does not linger in the file's free pages (crypto-shredding).
    /// - foreign keys on: SQLite leaves them off unless asked.
    /// - busy timeout of 5 s: another process writing (`sealpost producer add` while
    ///   `sealpost up` runs) makes a statement wait, not fail with "database is locked".
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(RepoError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("secure_delete", "on")
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .map_err(RepoError::Database)?;
        Ok(Self { pool })
    }

    /// The underlying pool, for tables other crates keep in the same database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl Repository for SqliteRepository {
    async fn migrate(&self) -> Result<(), RepoError> {
        // SQLite has no advisory lock, so sqlx's migrator does not lock. Holding the write lock
        // (`BEGIN IMMEDIATE`) for the whole run makes a second process starting at the same time
        // wait, then see the migrations as applied, instead of applying them twice. sqlx nests
        // each migration's own transaction as a savepoint inside this one. (`run_direct` is what
        // `run` calls; `run(&mut *tx)` itself trips "Acquire is not general enough" inside an
        // `async_trait` future, as sqlx's own comment on `run_direct` explains.)
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(RepoError::Database)?;
        codec::migrator(MIGRATIONS)
            .run_direct(None, &mut *tx, false)
            .await
            .map_err(RepoError::Migrate)?;
        tx.commit().await.map_err(RepoError::Database)
    }

    async fn insert_producer(&self, producer: &Producer) -> Result<(), RepoError> {
        sqlx::query(concat!(
            "INSERT INTO producers (",
            producer_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
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
            " FROM producers WHERE public_key = ?"
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
            " FROM producers WHERE name = ?"
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
            ") VALUES (?, ?, ?, ?, ?, ?)"
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
            " FROM login_sessions WHERE jti = ? AND revoked_at IS NULL AND expires_at > ?"
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
            "UPDATE login_sessions SET revoked_at = ? \
             WHERE jti = ? AND revoked_at IS NULL AND expires_at > ?",
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
            ") VALUES (?, ?, ?, ?, ?, ?)"
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
        let done = sqlx::query("UPDATE objects SET size = ?, sha1 = ? WHERE key = ?")
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
            " FROM objects WHERE key = ?"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| codec::object(&row))
        .transpose()
    }

    async fn delete_object(&self, key: &ObjectKey) -> Result<bool, RepoError> {
        let done = sqlx::query("DELETE FROM objects WHERE key = ?")
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
             WHERE o.created_at < ? \
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
        let row = sqlx::query("SELECT 1 FROM objects WHERE key = ?")
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn insert_document(&self, document: &DocumentRecord) -> Result<(), RepoError> {
        // Built from constant column names only: no value is formatted into the SQL.
        let sql = codec::insert_document_sql(false);
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
            " FROM documents WHERE producer_id = ? AND id = ?"
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
        // `?2 IS NULL OR id > ?2`: one statement whether or not a cursor is given.
        sqlx::query(
            "SELECT id, name FROM documents \
             WHERE producer_id = ?1 AND (?2 IS NULL OR id > ?2) \
             ORDER BY id LIMIT ?3",
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
            "UPDATE documents SET {} WHERE producer_id = ? AND id = ? AND last_modified = ?",
            codec::set_clause(false, 1)
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
        sqlx::query("SELECT producer_id, id FROM documents WHERE expiration <= ? ORDER BY expiration, id LIMIT ?")
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

impl SqliteRepository {
    /// Deletes the document row and its object row (the wrapped data key) in one transaction,
    /// when `expected_last_modified` is `None` or still matches.
    async fn delete_where(
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
