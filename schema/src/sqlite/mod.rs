//! The embedded default: one SQLite file, shared by every process of an instance. This module
//! holds SQLite's side of [`Dialect`]: how the file is opened, its write transactions, bulk
//! inserts and migrations; the statements themselves are `crate::sql`'s.

mod file_mode;
mod log_append;
mod log_writer;
mod read_conn;

pub(crate) use log_writer::LogWriter;
pub(crate) use read_conn::ReadConn;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Pool, Sqlite, Transaction};

use crate::codec::{self, db_error};
use crate::log_codec::{NewLine, log_sql};
use crate::model::LogKind;
use crate::repo::RepoError;
use crate::sql::{Dialect, SqlRepository, sql};

/// The repository over a SQLite file.
pub type SqliteRepository = SqlRepository<Sqlite>;

/// How long a statement waits for another connection's or process's write lock before failing
/// with "database is locked": `sealpost producer add` or `vault rotate-key` may write while
/// `sealpost up` runs.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Log lines per INSERT statement: 7 parameters each, far below SQLite's 32,766.
const INSERT_CHUNK: usize = 500;

const MIGRATIONS: &[(i64, &str, &str)] = crate::sql::embedded_migrations!("sqlite");

impl SqlRepository<Sqlite> {
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
    /// - the audit logs' appends on a connection and thread of their own (`log_writer.rs`: one
    ///   thread hand-off per transaction instead of one per statement), same settings.
    /// - the lockout checks' reads under the write lock on another (`read_conn.rs`): strict
    ///   across every process sharing the file.
    /// - no ping before each acquire: an embedded database's connection cannot drop, and the
    ///   ping is one more round trip to sqlx's per-connection worker thread for every query
    ///   (measured: those thread hand-offs were the largest cost of a gateway request).
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(RepoError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("secure_delete", "on")
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Owner-only files (the WAL and shared memory take the database file's mode).
        file_mode::make_private(url, options.get_filename())
            .map_err(|error| RepoError::Database(sqlx::Error::Io(error)))?;
        let path = options.get_filename().to_owned();
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(RepoError::Database)?;
        let (log_writer, read_conn) = match path {
            path if file_mode::is_file(url, &path) && !url.contains("mode=ro") => (
                Some(
                    LogWriter::start(path.clone(), BUSY_TIMEOUT)
                        .map_err(|error| RepoError::Database(sqlx::Error::Io(error)))?,
                ),
                Some(
                    ReadConn::start(path)
                        .map_err(|error| RepoError::Database(sqlx::Error::Io(error)))?,
                ),
            ),
            _ => (None, None),
        };
        Ok(Self::over(pool)
            .with_log_writer(log_writer)
            .with_read_conn(read_conn))
    }

    /// Applies the migrations up to `target` only (all when `None`); the chaining of old log
    /// rows runs only with the full set (it needs migration 0006).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) async fn run_migrations_to(&self, target: Option<i64>) -> Result<(), RepoError> {
        migrate_to(self.pool(), target).await
    }
}

impl Dialect for Sqlite {
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const BYTE_ORDER: &'static str = "";
    // `typeof(audience)` is answered from the record header; `audience IS NOT NULL` in a select
    // list makes SQLite load the whole (possibly megabyte) value first.
    const HAS_AUDIENCE: &'static str = "(typeof(audience) <> 'null')";

    crate::sql::dialect::same_in_every_dialect!(Sqlite);

    async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Self>, RepoError> {
        pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    async fn insert_log_lines(
        conn: &mut SqliteConnection,
        kind: LogKind,
        lines: &[NewLine<'_>],
    ) -> Result<(), RepoError> {
        // One multi-row INSERT per chunk rather than one statement per line: each statement is
        // a round trip to sqlx's SQLite worker thread, which dominated a busy gateway's audit
        // cost. SQLite assigns the rows' seq in VALUES order, which is chain order.
        for chunk in lines.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::<Sqlite>::new(match kind {
                LogKind::Vault => {
                    "INSERT INTO vault_log (producer_id, document_id, time, fields, prev, chain) "
                }
                LogKind::Api | LogKind::Gateway => log_sql!(
                    kind,
                    "INSERT INTO " log " (producer_id, document_id, time, hit, fields, prev, chain) "
                ),
            });
            insert.push_values(chunk, |mut row, line| {
                row.push_bind(line.producer_id)
                    .push_bind(line.document_id)
                    .push_bind(line.time);
                if kind != LogKind::Vault {
                    row.push_bind(line.hit);
                }
                row.push_bind(line.fields.as_str())
                    .push_bind(line.prev.as_str())
                    .push_bind(line.chain.as_str());
            });
            insert.build().execute(&mut *conn).await.map_err(db_error)?;
        }
        Ok(())
    }

    async fn store_old_chains(
        conn: &mut SqliteConnection,
        kind: LogKind,
        chains: Vec<(i64, String, String)>,
    ) -> Result<(), RepoError> {
        for (seq, prev, chain) in chains {
            sql::<Sqlite>(log_sql!(
                kind,
                "UPDATE " log " SET prev = $1, chain = $2 WHERE seq = $3"
            ))
            .bind(prev)
            .bind(chain)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Crypto-shredding in WAL mode: `secure_delete` zeroes the deleted row in the new page
    /// image, but older frames of the write-ahead log still hold the page as it was (with the
    /// wrapped data key) until a checkpoint resets the log. This checkpoints and truncates the
    /// log in the background, best effort: under concurrent readers the checkpoint may not
    /// complete, and the next one (or a clean close) finishes the job. Not awaited, so a
    /// DELETE is never delayed by readers.
    fn after_delete(pool: &SqlitePool) {
        let pool = pool.clone();
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

    async fn migrate(pool: &SqlitePool) -> Result<(), RepoError> {
        migrate_to(pool, None).await
    }
}

async fn migrate_to(pool: &Pool<Sqlite>, target: Option<i64>) -> Result<(), RepoError> {
    // SQLite has no advisory lock, so sqlx's migrator does not lock. Holding the write lock
    // (`BEGIN IMMEDIATE`) for the whole run makes a second process starting at the same time
    // wait, then see the migrations as applied, instead of applying them twice. sqlx nests
    // each migration's own transaction as a savepoint inside this one. (`run_direct` is what
    // `run` calls; `run(&mut *tx)` itself trips "Acquire is not general enough" inside an
    // `async_trait` future, as sqlx's own comment on `run_direct` explains.)
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(RepoError::Database)?;
    codec::migrator(MIGRATIONS)
        .run_direct(target, &mut *tx, false)
        .await
        .map_err(RepoError::Migrate)?;
    // Rows written before 0006 get their hash chains in this same transaction, so the
    // migration and the chaining land together and no append can come between them.
    if target.is_none() {
        crate::sql::chain_old_lines::<Sqlite>(&mut tx).await?;
    }
    tx.commit().await.map_err(RepoError::Database)
}
