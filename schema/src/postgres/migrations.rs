//! This database's migrations, embedded in the binary, and how they are applied.

use super::PgRepository;
use crate::codec;
use crate::repo::RepoError;

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
    (
        3,
        "gateway",
        include_str!("../../migrations/postgres/0003_gateway.sql"),
    ),
    (
        4,
        "large_columns_last",
        include_str!("../../migrations/postgres/0004_large_columns_last.sql"),
    ),
    (
        5,
        "oauth",
        include_str!("../../migrations/postgres/0005_oauth.sql"),
    ),
    (
        6,
        "audit",
        include_str!("../../migrations/postgres/0006_audit.sql"),
    ),
    (
        7,
        "deliveries",
        include_str!("../../migrations/postgres/0007_deliveries.sql"),
    ),
    (
        8,
        "content_signatures",
        include_str!("../../migrations/postgres/0008_content_signatures.sql"),
    ),
    (
        11,
        "access_version",
        include_str!("../../migrations/postgres/0011_access_version.sql"),
    ),
];

impl PgRepository {
    pub(super) async fn run_migrations(&self) -> Result<(), RepoError> {
        // sqlx's PostgreSQL migrator takes an advisory lock for the run, so instances starting
        // together apply each migration once. Then the rows written before 0006 get their
        // hash chains, once, before this instance may append (see `chain_old_lines`).
        codec::migrator(MIGRATIONS)
            .run(&self.pool)
            .await
            .map_err(RepoError::Migrate)?;
        self.chain_old_lines().await
    }

    /// Applies the migrations up to `target` only, without the chaining of old log rows.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) async fn run_migrations_to(&self, target: i64) -> Result<(), RepoError> {
        codec::migrator(MIGRATIONS)
            .run_to(target, &self.pool)
            .await
            .map_err(RepoError::Migrate)
    }
}
