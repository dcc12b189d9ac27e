//! Statements written once for both databases: values bound through [`Bind`] (which each
//! dialect maps onto its own encoder), errors mapped to [`RepoError`] in one place.
//!
//! Placeholders are PostgreSQL's `$1 … $n` in every statement: sqlx's SQLite driver binds
//! `$n` to the n-th argument too (it reads the parameter's name), so the text needs no
//! rewriting, at start-up or per call. A statement may use `$n` more than once.

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use sqlx::Executor;

use super::dialect::{Affected as _, Dialect};
use crate::codec::db_error;
use crate::repo::RepoError;

/// A value as both databases bind it. Every column Sealpost stores is an integer, a text or a
/// byte string (times are milliseconds), so three kinds, each nullable, cover them all; a NULL
/// keeps its kind because PostgreSQL types every parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bytes(Option<&'a [u8]>),
}

/// A Rust value that can be bound to a statement of either database.
pub trait Bind {
    fn value(&self) -> Value<'_>;
    /// The NULL of this kind (what `None::<Self>` binds).
    fn null() -> Value<'static>;
}

impl Bind for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(Some(*self))
    }
    fn null() -> Value<'static> {
        Value::Int(None)
    }
}

impl Bind for str {
    fn value(&self) -> Value<'_> {
        Value::Text(Some(self))
    }
    fn null() -> Value<'static> {
        Value::Text(None)
    }
}

impl Bind for String {
    fn value(&self) -> Value<'_> {
        Value::Text(Some(self))
    }
    fn null() -> Value<'static> {
        Value::Text(None)
    }
}

impl Bind for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Bytes(Some(self))
    }
    fn null() -> Value<'static> {
        Value::Bytes(None)
    }
}

impl Bind for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Bytes(Some(self))
    }
    fn null() -> Value<'static> {
        Value::Bytes(None)
    }
}

impl<T: Bind + ?Sized> Bind for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
    fn null() -> Value<'static> {
        T::null()
    }
}

impl<T: Bind> Bind for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(value) => value.value(),
            None => T::null(),
        }
    }
    fn null() -> Value<'static> {
        T::null()
    }
}

/// One statement of either database with its bound values.
pub struct Sql<D: Dialect> {
    query: sqlx::query::Query<'static, D, D::Arguments>,
}

/// The statement `text` (constant SQL: values are always bound, never formatted in).
pub fn sql<D: Dialect>(text: &'static str) -> Sql<D> {
    Sql {
        query: sqlx::query(text),
    }
}

impl<D: Dialect> Sql<D> {
    /// A statement whose text was composed at run time, from constant SQL and numbered
    /// placeholders only (never from a value), e.g. a multi-row `VALUES` list.
    pub fn composed(text: String) -> Self {
        Self {
            query: sqlx::query(sqlx::AssertSqlSafe(text)),
        }
    }

    pub fn bind(self, value: impl Bind) -> Self {
        Self {
            query: D::bind(self.query, value.value()),
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub async fn execute<'c>(self, on: impl Executor<'c, Database = D>) -> Result<u64, RepoError> {
        let done = self.query.execute(on).await.map_err(db_error)?;
        Ok(done.rows_affected())
    }

    pub async fn fetch_optional<'c>(
        self,
        on: impl Executor<'c, Database = D>,
    ) -> Result<Option<D::Row>, RepoError> {
        self.query.fetch_optional(on).await.map_err(db_error)
    }

    pub async fn fetch_one<'c>(
        self,
        on: impl Executor<'c, Database = D>,
    ) -> Result<D::Row, RepoError> {
        self.query.fetch_one(on).await.map_err(db_error)
    }

    pub async fn fetch_all<'c>(
        self,
        on: impl Executor<'c, Database = D>,
    ) -> Result<Vec<D::Row>, RepoError> {
        self.query.fetch_all(on).await.map_err(db_error)
    }

    /// The rows as the database hands them over (constant memory however many).
    pub fn fetch<'c>(
        self,
        on: impl Executor<'c, Database = D> + 'c,
    ) -> BoxStream<'c, Result<D::Row, RepoError>> {
        self.query
            .fetch(on)
            .map(|row| row.map_err(db_error))
            .boxed()
    }
}
