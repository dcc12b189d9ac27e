//! What differs between the two databases, and nothing else: every statement is written once
//! in the area modules beside this one, generic over a [`Dialect`]; a dialect supplies the
//! hooks below (implemented in `crate::sqlite` and `crate::postgres`).

use std::future::Future;

use sqlx::query::Query;
use sqlx::{Database, Executor, IntoArguments, Pool, Transaction};

use super::query::Value;
use crate::codec::Columns;
use crate::log_codec::NewLine;
use crate::model::LogKind;
use crate::repo::RepoError;

/// A database Sealpost stores its records in: `sqlx::Sqlite` or `sqlx::Postgres`.
///
/// The bounds on the associated types are what generic statements need (arguments sqlx can
/// send, rows `Columns` can read, results that count rows); being bounds of the trait, they
/// hold wherever `D: Dialect` does, so the area modules need no `where` clauses.
pub trait Dialect:
    Database<Arguments: IntoArguments<Self>, Row: Columns, QueryResult: Affected> + Sync
{
    /// `" FOR UPDATE"` where the database locks rows a transaction reads (PostgreSQL), empty
    /// where a write transaction already holds the whole database (SQLite).
    const FOR_UPDATE: &'static str;
    /// Appended to a claim's row selection so that concurrent claimers skip each other's rows
    /// (PostgreSQL's `FOR UPDATE SKIP LOCKED`); empty on SQLite, whose writers are serialized.
    const SKIP_LOCKED: &'static str;
    /// Orders text by bytes (`COLLATE "C"` on PostgreSQL; SQLite's default already does).
    const BYTE_ORDER: &'static str;
    /// A select-list expression, `has_audience`: 1 when the document has an audience, read
    /// without loading the (possibly megabyte) value.
    const HAS_AUDIENCE: &'static str;

    /// The statements composed from the fragments above, built once per process.
    fn texts() -> &'static super::Texts;

    /// Binds one value with this database's encoder.
    fn bind<'q>(
        query: Query<'q, Self, Self::Arguments>,
        value: Value<'_>,
    ) -> Query<'q, Self, Self::Arguments>;

    /// The pool as an executor (one statement on any connection).
    fn on_pool(pool: &Pool<Self>) -> impl Executor<'_, Database = Self>;
    /// A connection (a transaction's) as an executor.
    fn on_conn(conn: &mut Self::Connection) -> impl Executor<'_, Database = Self>;

    /// Starts a transaction that will write: SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so the busy timeout applies to it and what the transaction reads
    /// cannot change before it commits; PostgreSQL locks rows as statements touch them.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, RepoError>> + Send;

    /// Inserts chained log lines in `lines` order (their `seq` follows it), in as few
    /// statements as the database allows.
    fn insert_log_lines(
        conn: &mut Self::Connection,
        kind: LogKind,
        lines: &[NewLine<'_>],
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Stores the `(seq, prev, chain)` of rows written before migration 0006.
    fn store_old_chains(
        conn: &mut Self::Connection,
        kind: LogKind,
        chains: Vec<(i64, String, String)>,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Runs after a document (and its wrapped data key) was deleted: SQLite checkpoints its
    /// write-ahead log so the old page images go too; PostgreSQL has nothing to do.
    fn after_delete(pool: &Pool<Self>);

    /// Applies this database's embedded migrations (and chains rows written before 0006).
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// How many rows a statement changed (each database's result type has its own method).
pub trait Affected {
    fn rows_affected(&self) -> u64;
}

impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// The hooks whose text is the same for every dialect but which can only be written for a
/// concrete database (the encoders and executors they use are implemented per database, so a
/// generic default method would not compile): `texts`, `bind`, `on_pool`, `on_conn`.
macro_rules! same_in_every_dialect {
    ($db:ty) => {
        fn texts() -> &'static $crate::sql::Texts {
            static TEXTS: std::sync::LazyLock<$crate::sql::Texts> =
                std::sync::LazyLock::new($crate::sql::Texts::new::<$db>);
            &TEXTS
        }

        fn bind<'q>(
            query: sqlx::query::Query<'q, Self, Self::Arguments>,
            value: $crate::sql::query::Value<'_>,
        ) -> sqlx::query::Query<'q, Self, Self::Arguments> {
            use $crate::sql::query::Value;
            match value {
                Value::Int(value) => query.bind(value),
                Value::Text(value) => query.bind(value),
                Value::Bytes(value) => query.bind(value),
            }
        }

        fn on_pool(pool: &sqlx::Pool<Self>) -> impl sqlx::Executor<'_, Database = Self> {
            pool
        }

        fn on_conn(conn: &mut Self::Connection) -> impl sqlx::Executor<'_, Database = Self> {
            conn
        }
    };
}
pub(crate) use same_in_every_dialect;
