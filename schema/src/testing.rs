//! Helpers for tests across the workspace that run against PostgreSQL.
//!
//! Every test gets its own freshly created database ([`TestDatabase`]) on the server named by
//! `SEALPOST_TEST_POSTGRES_URL`, so tests run in parallel without seeing each other's rows. The
//! guard drops its database when it goes out of scope (also when the test panics): a long-lived
//! development cluster otherwise collects thousands of them.

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

/// Set to keep the test databases (to look at one after a failure); they are dropped otherwise.
pub const KEEP_DATABASES_VAR: &str = "SEALPOST_TEST_KEEP_DATABASES";

/// A new, empty database `sp_<32 hex digits>` of one test, on the server of the base URL (same
/// server, user and query parameters, other database name). Dropping the guard drops the
/// database with `DROP DATABASE … WITH (FORCE)` (PostgreSQL 13+), which also ends the
/// connections still open on it (pools of instances the test did not stop).
#[derive(Debug)]
pub struct TestDatabase {
    base_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A fresh database on the server of [`postgres_base_url`].
    ///
    /// # Panics
    /// As [`postgres_base_url`] and [`TestDatabase::create_on`].
    pub async fn create() -> Self {
        Self::create_on(&postgres_base_url()).await
    }

    /// A fresh database on the server of `base_url`.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses to create the database.
    pub async fn create_on(base_url: &str) -> Self {
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
        Self {
            url: with_database(base_url, &name),
            base_url: base_url.to_owned(),
            name,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// `drop` cannot await: the `DROP DATABASE` runs on a thread of its own with a small runtime (the
/// test's runtime may be a current-thread one, blocked here). A failure is reported, never a panic.
impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::env::var_os(KEEP_DATABASES_VAR).is_some() {
            return;
        }
        let (base_url, name) = (self.base_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(drop_database(&base_url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop test database {}: {e}", self.name),
            Err(_) => eprintln!(
                "cannot drop test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

async fn drop_database(base_url: &str, name: &str) -> Result<(), String> {
    let mut conn = PgConnection::connect(base_url)
        .await
        .map_err(|e| e.to_string())?;
    // As at creation: our own hex name, never outside input.
    let dropped = conn
        .execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let _ = conn.close().await;
    dropped
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
