//! The statements of [`IdempotencyRepo`]: `idempotency_keys` (migration 0018).
//!
//! The stored body is sealed with the record keys when the repository holds them (a
//! delivery's status names its recipients, as the sealed `deliveries` columns do); the
//! associated data binds it to its producer, environment and key, so it opens nowhere else.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{Columns as _, millis};
use crate::repo::RepoError;
use crate::repo::idempotency::{
    CompletedRequest, IdempotencyRepo, IdempotencySlot, KeyReservation, Reserve, StoredResponse,
};

/// The column name the sealed body is bound to.
const BODY_COLUMN: &str = "idempotency_keys.body";

/// Rounds of insert-then-read: the row read after a refused insert can vanish in between (its
/// request failed and released it), and the next round then inserts.
const RESERVE_ROUNDS: usize = 3;

#[async_trait]
impl<D: Dialect> IdempotencyRepo for SqlRepository<D> {
    async fn reserve_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        reserve: Reserve<'_>,
    ) -> Result<KeyReservation, RepoError> {
        self.prune_idempotency_keys(reserve.now).await?;
        sql(
            "DELETE FROM idempotency_keys WHERE producer_id = $1 AND environment = $2 \
             AND idem_key = $3 AND status IS NULL AND touched_at < $4",
        )
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .bind(millis(reserve.abandoned_before))
        .execute(self.db())
        .await?;
        for _ in 0..RESERVE_ROUNDS {
            if self.insert_reservation(slot, reserve).await? {
                return Ok(KeyReservation::Reserved);
            }
            if let Some(found) = self.read_reservation(slot).await? {
                return Ok(found);
            }
        }
        // Still contended after every round: as good as in progress.
        Ok(KeyReservation::InProgress)
    }

    async fn touch_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        sql(
            "UPDATE idempotency_keys SET touched_at = $1 WHERE producer_id = $2 \
             AND environment = $3 AND idem_key = $4 AND status IS NULL",
        )
        .bind(millis(now))
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .execute(self.db())
        .await
        .map(drop)
    }

    async fn complete_idempotency_key(
        &self,
        slot: IdempotencySlot<'_>,
        body_sha256: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| RepoError::Corrupt(format!("idempotency_keys.headers: {e}")))?;
        sql(
            "UPDATE idempotency_keys SET status = $1, body_sha256 = $2, headers = $3, \
             body = $4, expires_at = $5 WHERE producer_id = $6 AND environment = $7 \
             AND idem_key = $8 AND status IS NULL",
        )
        .bind(i64::from(response.status))
        .bind(body_sha256)
        .bind(headers)
        .bind(self.seal_body(slot, &response.body)?)
        .bind(millis(expires_at))
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .execute(self.db())
        .await
        .map(drop)
    }

    async fn release_idempotency_key(&self, slot: IdempotencySlot<'_>) -> Result<(), RepoError> {
        sql(
            "DELETE FROM idempotency_keys WHERE producer_id = $1 AND environment = $2 \
             AND idem_key = $3 AND status IS NULL",
        )
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .execute(self.db())
        .await
        .map(drop)
    }

    async fn prune_idempotency_keys(&self, now: DateTime<Utc>) -> Result<u64, RepoError> {
        sql("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(self.db())
            .await
    }
}

impl<D: Dialect> SqlRepository<D> {
    /// The reservation's insert: `true` when this request took the key.
    async fn insert_reservation(
        &self,
        slot: IdempotencySlot<'_>,
        reserve: Reserve<'_>,
    ) -> Result<bool, RepoError> {
        let inserted = sql(
            "INSERT INTO idempotency_keys (producer_id, environment, idem_key, method, path, \
             touched_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (producer_id, environment, idem_key) DO NOTHING",
        )
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .bind(reserve.method)
        .bind(reserve.path)
        .bind(millis(reserve.now))
        .bind(millis(reserve.expires_at))
        .execute(self.db())
        .await?;
        Ok(inserted == 1)
    }

    /// The row holding the key, if any: in progress, or the answer kept.
    async fn read_reservation(
        &self,
        slot: IdempotencySlot<'_>,
    ) -> Result<Option<KeyReservation>, RepoError> {
        let row = sql(
            "SELECT method, path, status, body_sha256, headers, body FROM idempotency_keys \
             WHERE producer_id = $1 AND environment = $2 AND idem_key = $3",
        )
        .bind(slot.producer.as_str())
        .bind(slot.environment.as_str())
        .bind(slot.key)
        .fetch_optional(self.db())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let Some(status) = row.opt_int("status")? else {
            return Ok(Some(KeyReservation::InProgress));
        };
        let corrupt = |what: &str| RepoError::Corrupt(format!("idempotency_keys.{what}"));
        let headers: Vec<(String, String)> =
            serde_json::from_str(&row.opt_text("headers")?.ok_or_else(|| corrupt("headers"))?)
                .map_err(|_| corrupt("headers"))?;
        let stored = row.opt_bytes("body")?.ok_or_else(|| corrupt("body"))?;
        let response = StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("status"))?,
            headers,
            body: self.open_body(slot, stored)?,
        };
        Ok(Some(KeyReservation::Completed(Box::new(
            CompletedRequest {
                method: row.text("method")?,
                path: row.text("path")?,
                body_sha256: row
                    .opt_text("body_sha256")?
                    .ok_or_else(|| corrupt("body_sha256"))?,
                response,
            },
        ))))
    }

    /// What the body's associated data names: the key's producer, environment and key.
    fn body_owner(slot: IdempotencySlot<'_>) -> String {
        format!(
            "idempotency {} {} {}",
            slot.producer.as_str(),
            slot.environment.as_str(),
            slot.key
        )
    }

    /// The body as stored: sealed when the repository holds record keys.
    fn seal_body(&self, slot: IdempotencySlot<'_>, body: &[u8]) -> Result<Vec<u8>, RepoError> {
        match self.records() {
            Some(records) => records
                .seal(&Self::body_owner(slot), BODY_COLUMN, body)
                .map(String::into_bytes)
                .map_err(|e| RepoError::RecordKeys(e.to_string())),
            None => Ok(body.to_vec()),
        }
    }

    /// The body as answered. A sealed value is text starting with the sealed prefix, which a
    /// kept body (JSON, starting with `{`) never does.
    fn open_body(&self, slot: IdempotencySlot<'_>, stored: Vec<u8>) -> Result<Vec<u8>, RepoError> {
        let sealed = std::str::from_utf8(&stored)
            .ok()
            .filter(|text| crate::cipher::is_sealed(text));
        match (sealed, self.records()) {
            (Some(text), Some(records)) => records
                .open(&Self::body_owner(slot), BODY_COLUMN, text)
                .map_err(|e| RepoError::RecordKeys(e.to_string())),
            (Some(_), None) => Err(RepoError::RecordKeys("no record keys loaded".into())),
            (None, _) => Ok(stored),
        }
    }
}
