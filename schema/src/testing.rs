//! Helpers for tests across the workspace that run against PostgreSQL.
//!
//! Every test gets its own freshly created database on the server `scripts/test` starts, so tests
//! run in parallel without seeing each other's rows. The databases are left behind: the server is
//! a throwaway one.

use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The environment variable naming the maintenance database of the test server.
pub const POSTGRES_URL_VAR: &str = "SEALPOST_TEST_POSTGRES_URL";

/// The test server's maintenance database URL (e.g. `postgres://postgres@127.0.0.1:55432/postgres`),
/// from `SEALPOST_TEST_POSTGRES_URL`.
///
/// # Panics
/// When the variable is unset: PostgreSQL tests must not silently pass without a server.
pub fn postgres_base_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_VAR} is not set: run the test command in README: scripts/test, \
             which starts PostgreSQL"
        )
    })
}

/// Creates a new, empty database `sp_<32 hex digits>` on the server of `base_url` and returns its
/// URL (same server, user and query parameters, other database name).
///
/// # Panics
/// When the server cannot be reached or refuses to create the database.
pub async fn fresh_postgres_url(base_url: &str) -> String {
    let name = format!("sp_{}", random_hex());
    let mut conn = PgConnection::connect(base_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {base_url}: {e}"));
    // A database name cannot be a bound parameter; this one is our own hex, never outside input.
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    // Closing is a courtesy to the server; the database exists either way.
    let _ = conn.close().await;
    with_database(base_url, &name)
}

/// Applies `repo`'s migrations up to `version` only (and nothing of what
/// [`Repository::migrate`](crate::Repository::migrate) does after the last one), so a test can
/// write rows the way an older release did and then upgrade with `migrate`.
pub async fn migrate_sqlite_to(
    repo: &crate::sqlite::SqliteRepository,
    version: i64,
) -> Result<(), crate::RepoError> {
    repo.run_migrations_to(Some(version)).await
}

/// As [`migrate_sqlite_to`], for PostgreSQL.
pub async fn migrate_postgres_to(
    repo: &crate::postgres::PgRepository,
    version: i64,
) -> Result<(), crate::RepoError> {
    repo.run_migrations_to(version).await
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("the operating system's random number generator failed"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `base_url` with its database (the path) replaced by `database`, keeping any `?query`.
fn with_database(base_url: &str, database: &str) -> String {
    let (head, query) = match base_url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (base_url, None),
    };
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:55432/postgres", "sp_1"),
            "postgres://postgres@127.0.0.1:55432/sp_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "sp_1"),
            "postgres://u:p@h/sp_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h:5432", "sp_1"),
            "postgresql://h:5432/sp_1"
        );
    }
}
