//! The brute-force state of the gateway (migration 0003 and issue 14): failures per
//! (document, viewer) pair and per fixed window of an address or a document. The statements
//! only count and write back; the rules are `crate::lockout`'s.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns as _};
use crate::ids::{DocumentId, ProducerId};
use crate::lockout::{
    self as rules, AfterFailure, Attempt, AttemptLimits, ChallengeLock, Decision, Held, HeldCount,
    Hold, LockPolicy, Refusal, Reservation, failure_columns,
};
use crate::repo::{LockoutRepo, RepoError};

#[async_trait]
impl<D: Dialect> LockoutRepo for SqlRepository<D> {
    async fn reserve_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Reservation, RepoError> {
        match self.hold_attempt(attempt, limits).await? {
            Hold::Refused(refusal) => Ok(Reservation::Refused(refusal)),
            Hold::Granted(held) => {
                let then = held.then;
                held.count().await?;
                Ok(Reservation::Granted { then })
            }
        }
    }

    async fn hold_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Hold, RepoError> {
        // Many reservations at once; a check waits for those that began before it (until
        // they are settled).
        let gate = self.lockout_gate.clone().read_owned().await;
        let (start, length) = rules::address_window(attempt.now, limits.window);
        // SQLite holds the write lock from the first count to the commit or rollback; on
        // PostgreSQL each counting upsert locks its row until then, always in the order
        // address, document, pair (so two attempts cannot deadlock). Either way racing
        // attempts (from any gateway) on a document are decided one after the other, each
        // seeing the last.
        let mut tx = D::begin_write(&self.pool).await?;
        let address = count_in_window::<D>(&mut tx, attempt.address, start).await?;
        let document_key = rules::document_window_key(attempt.document);
        let document = count_in_window::<D>(&mut tx, &document_key, start).await?;
        let pair = match attempt.viewer {
            Some(viewer) => Some(count_pair::<D>(&mut tx, attempt.document, viewer).await?),
            None => None,
        };
        match rules::decide(pair.as_ref(), address, document, attempt.now, limits)? {
            Decision::Refuse(refusal) => {
                tx.rollback().await.map_err(codec::db_error)?;
                Ok(Hold::Refused(refusal))
            }
            Decision::Grant { step, then } => {
                if let Some(viewer) = attempt.viewer {
                    write_step::<D>(&mut tx, attempt.document, viewer, step).await?;
                }
                let count = HeldTx {
                    tx,
                    prune: (address == 1).then(|| (self.pool.clone(), start, length)),
                    gate,
                };
                let had_failures = pair.as_ref().is_some_and(rules::had_failures);
                Ok(Hold::Granted(Held::new(
                    then,
                    had_failures,
                    Box::new(count),
                )))
            }
        }
    }

    async fn check_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Option<Refusal>, RepoError> {
        // After this process's reservations in flight: a fair lock, taken and let go, so the
        // check comes after every reservation that began before it (and their commits).
        drop(self.lockout_gate.write().await);
        let (start, _) = rules::address_window(attempt.now, limits.window);
        let document_key = rules::document_window_key(attempt.document);
        let (address, document) = match self.read_conn() {
            Some(reader) => {
                let limits = (
                    i64::from(limits.per_address),
                    i64::from(limits.per_document),
                );
                (reader.window_counts(attempt.address, &document_key, start, limits)).await?
            }
            None if D::FOR_UPDATE.is_empty() => {
                committed_counts::<D>(self, attempt.address, &document_key, start).await?
            }
            None => locked_counts::<D>(self, attempt.address, &document_key, start).await?,
        };
        // The counts as a reservation's upserts return them: including this attempt.
        let (address, document) = (address.saturating_add(1), document.saturating_add(1));
        Ok(
            match rules::decide(None, address, document, attempt.now, limits)? {
                Decision::Refuse(refusal) => Some(refusal),
                Decision::Grant { .. } => None,
            },
        )
    }

    async fn release_attempt(
        &self,
        attempt: &Attempt<'_>,
        window: chrono::Duration,
    ) -> Result<(), RepoError> {
        let (start, _) = rules::address_window(attempt.now, window);
        let mut tx = D::begin_write(&self.pool).await?;
        for key in [
            attempt.address.to_owned(),
            rules::document_window_key(attempt.document),
        ] {
            sql("UPDATE address_failures SET failures = failures - 1 \
                 WHERE address = $1 AND window_start = $2 AND failures > 0")
            .bind(key)
            .bind(start)
            .execute(D::on_conn(&mut tx))
            .await?;
        }
        if let Some(viewer) = attempt.viewer {
            sql("DELETE FROM challenge_failures WHERE document_id = $1 AND viewer = $2")
                .bind(attempt.document.as_str())
                .bind(viewer)
                .execute(D::on_conn(&mut tx))
                .await?;
        }
        tx.commit().await.map_err(codec::db_error)
    }

    async fn reset_challenge_locks(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
    ) -> Result<u64, RepoError> {
        sql("DELETE FROM challenge_failures WHERE document_id = $1 \
             AND EXISTS (SELECT 1 FROM documents WHERE id = $1 AND producer_id = $2)")
        .bind(document.as_str())
        .bind(producer.as_str())
        .execute(self.db())
        .await
    }

    async fn challenge_lock(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
    ) -> Result<ChallengeLock, RepoError> {
        let counts = sql(concat!(
            "SELECT ",
            failure_columns!(),
            " FROM challenge_failures WHERE document_id = $1 AND viewer = $2"
        ))
        .bind(document.as_str())
        .bind(viewer)
        .fetch_optional(self.db())
        .await?
        .map(|row| rules::failure_counts(&row))
        .transpose()?;
        rules::lock_state(counts.as_ref(), now)
    }

    async fn record_challenge_failure(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> Result<ChallengeLock, RepoError> {
        // The counting upsert holds its lock (SQLite: the database's) until the commit, so a
        // racing failure waits and then sees this one's count and lock.
        let mut tx = D::begin_write(&self.pool).await?;
        let counts = count_pair::<D>(&mut tx, document, viewer).await?;
        let step = rules::after_failure(&counts, now, policy);
        write_step::<D>(&mut tx, document, viewer, step).await?;
        tx.commit().await.map_err(codec::db_error)?;
        rules::lock_state(Some(&rules::apply(counts, step)), now)
    }

    async fn clear_challenge_failures(
        &self,
        document: &DocumentId,
        viewer: &str,
    ) -> Result<(), RepoError> {
        sql("DELETE FROM challenge_failures \
             WHERE document_id = $1 AND viewer = $2 AND until_reset = 0")
        .bind(document.as_str())
        .bind(viewer)
        .execute(self.db())
        .await?;
        Ok(())
    }

    async fn record_address_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        let (start, length) = rules::address_window(now, window);
        let failures = count_in_window::<D>(
            &mut *self.pool.acquire().await.map_err(codec::db_error)?,
            address,
            start,
        )
        .await?;
        if failures == 1 {
            self.prune_windows(start, length).await;
        }
        rules::count("failures", failures)
    }

    async fn address_failures(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        let (start, _) = rules::address_window(now, window);
        let failures =
            sql("SELECT failures FROM address_failures WHERE address = $1 AND window_start = $2")
                .bind(address)
                .bind(start)
                .fetch_optional(self.db())
                .await?
                .map(|row| row.int("failures"))
                .transpose()?;
        rules::count("failures", failures.unwrap_or(0))
    }
}

impl<D: Dialect> SqlRepository<D> {
    async fn prune_windows(&self, start: i64, length: i64) {
        prune_windows(&self.pool, start, length).await;
    }
}

/// A new window for an address: a good moment to drop every address's windows older than the
/// previous one (rare, and an index range that is usually empty). Best effort.
async fn prune_windows<D: Dialect>(pool: &sqlx::Pool<D>, start: i64, length: i64) {
    if let Err(error) = sql("DELETE FROM address_failures WHERE window_start < $1")
        .bind(start.saturating_sub(length))
        .execute(D::on_pool(pool))
        .await
    {
        tracing::warn!(%error, "pruning old address failure windows failed");
    }
}

/// A held attempt's transaction ([`Held`]): committed for a failure, rolled back for a success
/// (nothing written, nothing fsynced). Keeps this process's lockout checks waiting until then.
struct HeldTx<D: Dialect> {
    tx: sqlx::Transaction<'static, D>,
    /// The pool and window to prune after the commit, when this count opened a window.
    prune: Option<(sqlx::Pool<D>, i64, i64)>,
    gate: tokio::sync::OwnedRwLockReadGuard<()>,
}

#[async_trait]
impl<D: Dialect> HeldCount for HeldTx<D> {
    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        let HeldTx { tx, prune, gate } = *self;
        tx.commit().await.map_err(codec::db_error)?;
        drop(gate);
        if let Some((pool, start, length)) = prune {
            prune_windows(&pool, start, length).await;
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), RepoError> {
        self.tx.rollback().await.map_err(codec::db_error)
    }
}

/// SQLite without a file of its own (an in-memory database: one process): the committed
/// counts, after this process's reservations in flight. A SQLite file reads them under its
/// write lock instead (`crate::sqlite::read_conn`), strict across processes.
async fn committed_counts<D: Dialect>(
    repo: &SqlRepository<D>,
    address: &str,
    document_key: &str,
    start: i64,
) -> Result<(i64, i64), RepoError> {
    let rows = sql("SELECT address, failures FROM address_failures \
                    WHERE window_start = $1 AND address IN ($2, $3)")
    .bind(start)
    .bind(address)
    .bind(document_key)
    .fetch_all(repo.db())
    .await?;
    let (mut by_address, mut by_document) = (0, 0);
    for row in &rows {
        let failures = row.int("failures")?;
        match row.text("address")? {
            key if key == address => by_address = failures,
            key if key == document_key => by_document = failures,
            _ => {}
        }
    }
    Ok((by_address, by_document))
}

/// PostgreSQL (row locks, any number of gateways): `reserve_attempt`'s counting upserts
/// without the pair, under its row locks and in its order (address, document), so racing
/// reservations from every gateway are decided before or after this, never around it; then
/// rolled back (an abort is not flushed). The counts before this attempt.
async fn locked_counts<D: Dialect>(
    repo: &SqlRepository<D>,
    address: &str,
    document_key: &str,
    start: i64,
) -> Result<(i64, i64), RepoError> {
    let mut tx = D::begin_write(&repo.pool).await?;
    let by_address = count_in_window::<D>(&mut tx, address, start).await?;
    let by_document = count_in_window::<D>(&mut tx, document_key, start).await?;
    tx.rollback().await.map_err(codec::db_error)?;
    Ok((by_address.saturating_sub(1), by_document.saturating_sub(1)))
}

/// Counts one attempt in `key`'s window starting at `start`; the count including it.
async fn count_in_window<D: Dialect>(
    conn: &mut D::Connection,
    key: &str,
    start: i64,
) -> Result<i64, RepoError> {
    sql(
        "INSERT INTO address_failures (address, window_start, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (address, window_start) DO UPDATE SET \
         failures = address_failures.failures + 1 RETURNING failures",
    )
    .bind(key)
    .bind(start)
    .fetch_one(D::on_conn(conn))
    .await?
    .int("failures")
}

/// Counts one failure of the pair; its row including it.
async fn count_pair<D: Dialect>(
    conn: &mut D::Connection,
    document: &DocumentId,
    viewer: &str,
) -> Result<rules::FailureCounts, RepoError> {
    let row = sql(concat!(
        "INSERT INTO challenge_failures (document_id, viewer, failures, total) \
         VALUES ($1, $2, 1, 1) ON CONFLICT (document_id, viewer) DO UPDATE SET \
         failures = challenge_failures.failures + 1, total = challenge_failures.total + 1 \
         RETURNING ",
        failure_columns!()
    ))
    .bind(document.as_str())
    .bind(viewer)
    .fetch_one(D::on_conn(conn))
    .await?;
    rules::failure_counts(&row)
}

/// Writes what [`rules::after_failure`] decided for the pair.
async fn write_step<D: Dialect>(
    conn: &mut D::Connection,
    document: &DocumentId,
    viewer: &str,
    step: AfterFailure,
) -> Result<(), RepoError> {
    let update = match step {
        AfterFailure::Keep => return Ok(()),
        AfterFailure::Lock(_) => sql(
            "UPDATE challenge_failures SET failures = 0, locks = locks + 1, \
             locked_until = $3 WHERE document_id = $1 AND viewer = $2",
        ),
        AfterFailure::UntilReset => sql(
            "UPDATE challenge_failures SET until_reset = 1 WHERE document_id = $1 AND viewer = $2",
        ),
    };
    let update = update.bind(document.as_str()).bind(viewer);
    match step {
        AfterFailure::Lock(until) => update.bind(until),
        AfterFailure::Keep | AfterFailure::UntilReset => update,
    }
    .execute(D::on_conn(conn))
    .await?;
    Ok(())
}
