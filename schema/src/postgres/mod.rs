//! The scaled-out database: PostgreSQL, shared by any number of service instances. This module
//! holds PostgreSQL's side of [`Dialect`]: row locks, `UNNEST` bulk inserts and migrations; the
//! statements themselves are `crate::sql`'s.

use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::codec::{self, db_error};
use crate::log_codec::{NewLine, log_sql};
use crate::model::LogKind;
use crate::repo::RepoError;
use crate::sql::{Dialect, SqlRepository};

/// The repository over a PostgreSQL database.
pub type PgRepository = SqlRepository<Postgres>;

const MIGRATIONS: &[(i64, &str, &str)] = crate::sql::embedded_migrations!("postgres");

impl SqlRepository<Postgres> {
    /// Opens a pool to `postgres://…` (or `postgresql://…`); the database must exist.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        let pool = PgPoolOptions::new()
            .connect(url)
            .await
            .map_err(RepoError::Database)?;
        Ok(Self::over(pool))
    }

    /// Applies the migrations up to `target` only, without the chaining of old log rows.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) async fn run_migrations_to(&self, target: i64) -> Result<(), RepoError> {
        codec::migrator(MIGRATIONS)
            .run_to(target, self.pool())
            .await
            .map_err(RepoError::Migrate)
    }
}

impl Dialect for Postgres {
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    // `audience IS NULL` reads the tuple's null bitmap only, never the (TOASTed) value.
    const HAS_AUDIENCE: &'static str =
        "CAST(CASE WHEN audience IS NULL THEN 0 ELSE 1 END AS BIGINT)";

    crate::sql::dialect::same_in_every_dialect!(Postgres);

    async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Self>, RepoError> {
        pool.begin().await.map_err(db_error)
    }

    async fn insert_log_lines(
        conn: &mut PgConnection,
        kind: LogKind,
        lines: &[NewLine<'_>],
    ) -> Result<(), RepoError> {
        // One statement; WITH ORDINALITY … ORDER BY: the rows take their seq in batch order,
        // which is chain order.
        let insert = match kind {
            LogKind::Vault => {
                "INSERT INTO vault_log (producer_id, document_id, time, fields, prev, chain) \
                 SELECT p, d, t, f, pr, c FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], \
                 $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[]) WITH ORDINALITY \
                 AS u (p, d, t, h, f, pr, c, n) ORDER BY n"
            }
            LogKind::Api | LogKind::Gateway => log_sql!(
                kind,
                "INSERT INTO " log " (producer_id, document_id, time, hit, fields, prev, chain) \
                 SELECT p, d, t, h, f, pr, c FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], \
                 $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[]) WITH ORDINALITY \
                 AS u (p, d, t, h, f, pr, c, n) ORDER BY n"
            ),
        };
        sqlx::query(insert)
            .bind(lines.iter().map(|l| l.producer_id).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.document_id).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.time).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.hit).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.fields.as_str()).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.prev.as_str()).collect::<Vec<_>>())
            .bind(lines.iter().map(|l| l.chain.as_str()).collect::<Vec<_>>())
            .execute(conn)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn store_old_chains(
        conn: &mut PgConnection,
        kind: LogKind,
        chains: Vec<(i64, String, String)>,
    ) -> Result<(), RepoError> {
        let (seqs, (prevs, chains)): (Vec<i64>, (Vec<String>, Vec<String>)) = chains
            .into_iter()
            .map(|(seq, prev, chain)| (seq, (prev, chain)))
            .unzip();
        sqlx::query(log_sql!(
            kind,
            "UPDATE " log " AS l SET prev = u.prev, chain = u.chain \
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) AS u (seq, prev, chain) \
             WHERE l.seq = u.seq"
        ))
        .bind(seqs)
        .bind(prevs)
        .bind(chains)
        .execute(conn)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    fn after_delete(_pool: &PgPool) {}

    async fn migrate(pool: &PgPool) -> Result<(), RepoError> {
        // sqlx's PostgreSQL migrator takes an advisory lock for the run, so instances starting
        // together apply each migration once. Then the rows written before 0006 get their hash
        // chains, once, in one transaction: the `log_backfill` rows stay locked until it
        // commits, so another instance starting at the same time waits and then finds nothing
        // left to do; no instance appends before its own `migrate` returned, so none appends
        // before the old rows are chained.
        codec::migrator(MIGRATIONS)
            .run(pool)
            .await
            .map_err(RepoError::Migrate)?;
        let mut tx = pool.begin().await.map_err(db_error)?;
        crate::sql::chain_old_lines::<Postgres>(&mut tx).await?;
        tx.commit().await.map_err(db_error)
    }
}
