//! The one repository over both databases: [`SqlRepository<D>`], generic over a [`Dialect`].
//!
//! Each area's statements live in one file here (`accounts`, `objects`, `documents` and
//! `records`, `viewers`, `lockout`, `oauth`, `logs`, `deliveries`), written once with `$n` placeholders
//! and bound through [`query::Bind`]; the row → record mappings they share are in
//! `crate::codec`, `crate::gateway_codec` and `crate::log_codec`. Where the databases really
//! differ (write transactions, row locks, bulk inserts, the WAL checkpoint, migrations) a
//! statement calls a hook of its [`Dialect`], implemented in `crate::sqlite` and
//! `crate::postgres`.

mod accounts;
mod allowlist;
mod api_keys;
mod deliveries;
pub mod dialect;
mod documents;
mod idempotency;
mod lockout;
mod logs;
mod migrations;
mod nonce_uses;
mod oauth;
mod objects;
mod producer_keys;
pub mod query;
mod records;
mod texts;
mod viewer_cache;
mod viewers;
mod views;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Pool;

pub use dialect::Dialect;
pub(crate) use logs::chain_old_lines;
pub(crate) use migrations::embedded_migrations;
pub(crate) use query::sql;
pub use texts::Texts;
pub use viewer_cache::{VIEWER_CACHE_ENTRIES, VIEWER_CACHE_TTL};

use crate::cipher::RecordCipher;
use crate::repo::{RepoError, Repository};

/// Sealpost's records in a database of dialect `D`. Cheap to clone (the pool is shared).
#[derive(Debug)]
pub struct SqlRepository<D: Dialect> {
    pool: Pool<D>,
    /// The record keys documents' viewer data is sealed with (`None`: tools and tests).
    records: Option<Arc<RecordCipher>>,
    /// SQLite only: the audit logs' appends go to a connection and thread of their own
    /// (`crate::sqlite::log_writer`); `None` on PostgreSQL and in-memory databases.
    log_writer: Option<Arc<crate::sqlite::LogWriter>>,
    /// SQLite files only: the lockout checks' strict reads (`crate::sqlite::read_conn`).
    read_conn: Option<Arc<crate::sqlite::ReadConn>>,
    /// The gateway's placeholder cache (issue 20), shared by every clone.
    viewers: Arc<viewer_cache::ViewerCache>,
    /// Orders this process's lockout checks after its reservations in flight (issue 20,
    /// `lockout::check_attempt`), shared by every clone.
    lockout_gate: Arc<tokio::sync::RwLock<()>>,
}

impl<D: Dialect> Clone for SqlRepository<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            records: self.records.clone(),
            log_writer: self.log_writer.clone(),
            read_conn: self.read_conn.clone(),
            viewers: self.viewers.clone(),
            lockout_gate: self.lockout_gate.clone(),
        }
    }
}

impl<D: Dialect> SqlRepository<D> {
    /// A repository over `pool`, without record keys.
    pub(crate) fn over(pool: Pool<D>) -> Self {
        Self {
            pool,
            records: None,
            log_writer: None,
            read_conn: None,
            viewers: Arc::default(),
            lockout_gate: Arc::default(),
        }
    }

    /// Sends the audit-log appends to `writer` (SQLite's own-connection writer).
    pub(crate) fn with_log_writer(mut self, writer: Option<crate::sqlite::LogWriter>) -> Self {
        self.log_writer = writer.map(Arc::new);
        self
    }

    /// Sends the lockout checks' reads to `conn` (SQLite's strict read connection).
    pub(crate) fn with_read_conn(mut self, conn: Option<crate::sqlite::ReadConn>) -> Self {
        self.read_conn = conn.map(Arc::new);
        self
    }

    /// The strict read connection of a SQLite file, when the database has one.
    pub(crate) fn read_conn(&self) -> Option<&crate::sqlite::ReadConn> {
        self.read_conn.as_deref()
    }

    /// The log writer the audit-log appends go to, when the database has one.
    pub(crate) fn log_writer(&self) -> Option<&crate::sqlite::LogWriter> {
        self.log_writer.as_deref()
    }

    /// Seals and opens documents' viewer data and secrets with `records` ([`crate::cipher`]).
    pub fn with_records(mut self, records: Option<Arc<RecordCipher>>) -> Self {
        self.records = records;
        self
    }

    /// The record keys, when the repository was opened with them.
    pub(crate) fn records(&self) -> Option<&RecordCipher> {
        self.records.as_deref()
    }

    /// The underlying pool, for tables other crates keep in the same database.
    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// The pool as an executor.
    fn db(&self) -> impl sqlx::Executor<'_, Database = D> {
        D::on_pool(&self.pool)
    }
}

#[async_trait]
impl<D: Dialect> Repository for SqlRepository<D> {
    async fn migrate(&self) -> Result<(), RepoError> {
        D::migrate(&self.pool).await
    }

    async fn ping(&self) -> Result<(), RepoError> {
        sql::<D>("SELECT 1").execute(self.db()).await.map(drop)
    }

    fn pool_use(&self) -> crate::repo::PoolUse {
        crate::repo::PoolUse {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }
}
