//! This database's migrations, embedded in the binary, and how they are applied.

use super::SqliteRepository;
use crate::codec;
use crate::repo::RepoError;

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
    (
        3,
        "gateway",
        include_str!("../../migrations/sqlite/0003_gateway.sql"),
    ),
    (
        4,
        "large_columns_last",
        include_str!("../../migrations/sqlite/0004_large_columns_last.sql"),
    ),
    (
        5,
        "oauth",
        include_str!("../../migrations/sqlite/0005_oauth.sql"),
    ),
    (
        6,
        "audit",
        include_str!("../../migrations/sqlite/0006_audit.sql"),
    ),
    (
        7,
        "deliveries",
        include_str!("../../migrations/sqlite/0007_deliveries.sql"),
    ),
    (
        8,
        "content_signatures",
        include_str!("../../migrations/sqlite/0008_content_signatures.sql"),
    ),
    (
        11,
        "access_version",
        include_str!("../../migrations/sqlite/0011_access_version.sql"),
    ),
];

impl SqliteRepository {
    pub(super) async fn run_migrations(&self) -> Result<(), RepoError> {
        self.run_migrations_to(None).await
    }

    /// Applies the migrations up to `target` only (all when `None`); the chaining of old log
    /// rows runs only with the full set (it needs migration 0006).
    pub(crate) async fn run_migrations_to(&self, target: Option<i64>) -> Result<(), RepoError> {
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
            .run_direct(target, &mut *tx, false)
            .await
            .map_err(RepoError::Migrate)?;
        // Rows written before 0006 get their hash chains in this same transaction, so the
        // migration and the chaining land together and no append can come between them.
        if target.is_none() {
            super::logs::chain_old_lines(&mut tx).await?;
        }
        tx.commit().await.map_err(RepoError::Database)
    }
}
