//! The viewer-facing gateway: its document lookups, access log with hit numbers and
//! brute-force limits (trait methods delegate here; the rules are in `gateway_codec`).

use chrono::{DateTime, Utc};

use super::SqliteRepository;
use crate::codec::{db_error, millis};
use sqlx::SqliteConnection;

use crate::gateway_codec::{
    self as gc, AfterFailure, Decision, failure_columns, viewer_document_columns,
};

use crate::ids::{DocumentId, PlaceholderId, ProducerId};
use crate::model::{
    Attempt, AttemptLimits, ChallengeLock, GatewayLogLine, LockPolicy, Reservation, ViewerDocument,
};
use crate::repo::RepoError;

const LOG_SCOPED: &str = "SELECT producer_id, document_id, time, hit, fields FROM gateway_log \
     WHERE producer_id = ? AND time >= ? AND time <= ? AND (? IS NULL OR document_id = ?) \
     ORDER BY seq";
const LOG_ALL: &str = "SELECT producer_id, document_id, time, hit, fields FROM gateway_log \
     WHERE time >= ? AND time <= ? AND (? IS NULL OR document_id = ?) ORDER BY seq";

impl SqliteRepository {
    pub(super) async fn select_viewer_document(
        &self,
        placeholder: &PlaceholderId,
    ) -> Result<Option<ViewerDocument>, RepoError> {
        // `typeof(audience)` is answered from the record header; `audience IS NOT NULL` in a
        // select list makes SQLite load the whole (possibly megabyte) value first.
        sqlx::query(concat!(
            "SELECT ",
            viewer_document_columns!(),
            ", (typeof(audience) <> 'null') AS has_audience FROM documents WHERE placeholder_id = ?"
        ))
        .bind(placeholder.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| gc::viewer_document(&row, self.records()))
        .transpose()
    }

    pub(super) async fn select_audience(
        &self,
        id: &DocumentId,
    ) -> Result<Option<(Option<serde_json::Value>, DateTime<Utc>)>, RepoError> {
        sqlx::query("SELECT audience, last_modified FROM documents WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| gc::audience(&row, id.as_str(), self.records()))
            .transpose()
    }

    pub(super) async fn select_gateway_log(
        &self,
        producer: Option<&ProducerId>,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<GatewayLogLine>, RepoError> {
        // Two statements rather than `? IS NULL OR producer_id = ?`, so the scoped one can
        // always use the (producer_id, time) index.
        let query = match producer {
            Some(producer) => sqlx::query(LOG_SCOPED).bind(producer.as_str()),
            None => sqlx::query(LOG_ALL),
        };
        query
            .bind(millis(from))
            .bind(millis(to))
            .bind(document.map(DocumentId::as_str))
            .bind(document.map(DocumentId::as_str))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .iter()
            .map(gc::gateway_log_line)
            .collect()
    }

    pub(super) async fn select_challenge_lock(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
    ) -> Result<ChallengeLock, RepoError> {
        let counts = sqlx::query(concat!(
            "SELECT ",
            failure_columns!(),
            " FROM challenge_failures WHERE document_id = ? AND viewer = ?"
        ))
        .bind(document.as_str())
        .bind(viewer)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| gc::failure_counts(&row))
        .transpose()?;
        gc::lock_state(counts.as_ref(), now)
    }

    pub(super) async fn count_challenge_failure(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> Result<ChallengeLock, RepoError> {
        // The write lock is held from the counting upsert to the commit, so a racing failure
        // waits and then sees this one's count and lock.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let counts = count_pair(&mut tx, document, viewer).await?;
        let step = gc::after_failure(&counts, now, policy);
        write_step(&mut tx, document, viewer, step).await?;
        tx.commit().await.map_err(db_error)?;
        gc::lock_state(Some(&gc::apply(counts, step)), now)
    }

    pub(super) async fn delete_challenge_failures(
        &self,
        document: &DocumentId,
        viewer: &str,
    ) -> Result<(), RepoError> {
        sqlx::query(
            "DELETE FROM challenge_failures WHERE document_id = ? AND viewer = ? AND until_reset = 0",
        )
        .bind(document.as_str())
        .bind(viewer)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn delete_challenge_locks(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
    ) -> Result<u64, RepoError> {
        let done = sqlx::query(
            "DELETE FROM challenge_failures WHERE document_id = ?1 \
             AND EXISTS (SELECT 1 FROM documents WHERE id = ?1 AND producer_id = ?2)",
        )
        .bind(document.as_str())
        .bind(producer.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn count_address_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        let (start, length) = gc::address_window(now, window);
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO address_failures (address, window_start, failures) VALUES (?, ?, 1) \
             ON CONFLICT (address, window_start) DO UPDATE SET \
             failures = address_failures.failures + 1 RETURNING failures",
        )
        .bind(address)
        .bind(start)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        if failures == 1 {
            self.prune_address_windows(start, length).await;
        }
        gc::count("failures", failures)
    }

    /// A new window for an address: a good moment to drop every address's windows older than
    /// the previous one (rare, and an index range that is usually empty).
    async fn prune_address_windows(&self, start: i64, length: i64) {
        if let Err(error) = sqlx::query("DELETE FROM address_failures WHERE window_start < ?")
            .bind(start.saturating_sub(length))
            .execute(&self.pool)
            .await
        {
            tracing::warn!(%error, "pruning old address failure windows failed");
        }
    }

    pub(super) async fn reserve_attempt_row(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Reservation, RepoError> {
        let (start, length) = gc::address_window(attempt.now, limits.window);
        // The write lock is held from the first count to the commit or rollback, so racing
        // attempts (from any gateway) are decided one after the other, each seeing the last.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let address = count_in_window(&mut tx, attempt.address, start).await?;
        let document_key = gc::document_window_key(attempt.document);
        let document = count_in_window(&mut tx, &document_key, start).await?;
        let pair = match attempt.viewer {
            Some(viewer) => Some(count_pair(&mut tx, attempt.document, viewer).await?),
            None => None,
        };
        match gc::decide(pair.as_ref(), address, document, attempt.now, limits)? {
            Decision::Refuse(refusal) => {
                tx.rollback().await.map_err(db_error)?;
                Ok(Reservation::Refused(refusal))
            }
            Decision::Grant { step, then } => {
                if let Some(viewer) = attempt.viewer {
                    write_step(&mut tx, attempt.document, viewer, step).await?;
                }
                tx.commit().await.map_err(db_error)?;
                if address == 1 {
                    self.prune_address_windows(start, length).await;
                }
                Ok(Reservation::Granted { then })
            }
        }
    }

    pub(super) async fn release_attempt_row(
        &self,
        attempt: &Attempt<'_>,
        window: chrono::Duration,
    ) -> Result<(), RepoError> {
        let (start, _) = gc::address_window(attempt.now, window);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        for key in [
            attempt.address.to_owned(),
            gc::document_window_key(attempt.document),
        ] {
            sqlx::query(
                "UPDATE address_failures SET failures = failures - 1 \
                 WHERE address = ? AND window_start = ? AND failures > 0",
            )
            .bind(key)
            .bind(start)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if let Some(viewer) = attempt.viewer {
            sqlx::query("DELETE FROM challenge_failures WHERE document_id = ? AND viewer = ?")
                .bind(attempt.document.as_str())
                .bind(viewer)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    pub(super) async fn select_address_failures(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError> {
        let (start, _) = gc::address_window(now, window);
        let failures: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM address_failures WHERE address = ? AND window_start = ?",
        )
        .bind(address)
        .bind(start)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        gc::count("failures", failures.unwrap_or(0))
    }
}

/// Counts one attempt in `key`'s window starting at `start`; the count including it.
async fn count_in_window(
    tx: &mut SqliteConnection,
    key: &str,
    start: i64,
) -> Result<i64, RepoError> {
    sqlx::query_scalar(
        "INSERT INTO address_failures (address, window_start, failures) VALUES (?, ?, 1) \
         ON CONFLICT (address, window_start) DO UPDATE SET \
         failures = address_failures.failures + 1 RETURNING failures",
    )
    .bind(key)
    .bind(start)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)
}

/// Counts one failure of the pair; its row including it.
async fn count_pair(
    tx: &mut SqliteConnection,
    document: &DocumentId,
    viewer: &str,
) -> Result<gc::FailureCounts, RepoError> {
    let row = sqlx::query(concat!(
        "INSERT INTO challenge_failures (document_id, viewer, failures, total) \
         VALUES (?, ?, 1, 1) ON CONFLICT (document_id, viewer) DO UPDATE SET \
         failures = challenge_failures.failures + 1, total = challenge_failures.total + 1 \
         RETURNING ",
        failure_columns!()
    ))
    .bind(document.as_str())
    .bind(viewer)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_error)?;
    gc::failure_counts(&row)
}

/// Writes what [`gc::after_failure`] decided for the pair.
async fn write_step(
    tx: &mut SqliteConnection,
    document: &DocumentId,
    viewer: &str,
    step: AfterFailure,
) -> Result<(), RepoError> {
    let update = match step {
        AfterFailure::Keep => return Ok(()),
        AfterFailure::Lock(until) => sqlx::query(
            "UPDATE challenge_failures SET failures = 0, locks = locks + 1, \
             locked_until = ? WHERE document_id = ? AND viewer = ?",
        )
        .bind(until),
        AfterFailure::UntilReset => sqlx::query(
            "UPDATE challenge_failures SET until_reset = 1 WHERE document_id = ? AND viewer = ?",
        ),
    };
    update
        .bind(document.as_str())
        .bind(viewer)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    Ok(())
}
