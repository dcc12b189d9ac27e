//! Deliveries and their jobs (migration 0007): queued by `POST /documents/{docId}/deliver`,
//! claimed and finished by the API servers' delivery workers. SQLite serializes writers, so a
//! claim (one `UPDATE … RETURNING`) can never hand a job to two workers. The row mappings at
//! the end are shared with the PostgreSQL twin (`crate::postgres::deliveries`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::SqliteRepository;
use crate::cipher::RecordCipher;
use crate::codec::{Columns as _, db_error, millis, seal_value, sealed_json};
use crate::ids::{DocumentId, ProducerId};
use crate::repo::RepoError;
use crate::repo::delivery::{
    ClaimedJob, DeliveryStatus, FinishedJob, JobOutcome, JobStatus, NewDelivery, NewRecipient,
    RecipientStatus,
};

/// Jobs per `INSERT` (8 values each, far below SQLite's 32,766 bound variables).
const INSERT_CHUNK: usize = 1000;

impl SqliteRepository {
    pub(super) async fn add_delivery(
        &self,
        delivery: &NewDelivery,
        recipients: &[NewRecipient],
    ) -> Result<(), RepoError> {
        // The fulfillment copy (its headers and body may hold credentials) and each job's
        // recipient (audience record values) are sealed like the document's own columns.
        let fulfillment = sealed_delivery(self.records(), delivery)?;
        let viewers = sealed_viewers(self.records(), delivery, recipients)?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO deliveries (id, producer_id, document_id, operator, fulfillment, \
             remaining, created_at, secrets) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(delivery.id.as_str())
        .bind(delivery.producer_id.as_str())
        .bind(delivery.document_id.as_str())
        .bind(&delivery.operator)
        .bind(fulfillment)
        .bind(recipients.len() as i64)
        .bind(millis(delivery.created_at))
        .bind(&delivery.secrets)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let due = millis(delivery.created_at);
        for (chunk_index, chunk) in recipients.chunks(INSERT_CHUNK).enumerate() {
            let mut insert = QueryBuilder::new(
                "INSERT INTO delivery_jobs (delivery_id, seq, record, idempotency_key, status, \
                 next_attempt_at, updated_at, viewer) ",
            );
            insert.push_values(chunk.iter().enumerate(), |mut row, (i, recipient)| {
                row.push_bind(delivery.id.as_str())
                    .push_bind((chunk_index * INSERT_CHUNK + i) as i64)
                    .push_bind(recipient.record)
                    .push_bind(&recipient.idempotency_key)
                    .push_bind("queued")
                    .push_bind(due)
                    .push_bind(due)
                    .push_bind(viewers[chunk_index * INSERT_CHUNK + i].clone());
            });
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }

    pub(super) async fn select_delivery(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
        id: &DocumentId,
    ) -> Result<Option<DeliveryStatus>, RepoError> {
        let Some(row) = sqlx::query(
            "SELECT created_at, secrets IS NOT NULL AS holds FROM deliveries \
             WHERE id = ? AND producer_id = ? AND document_id = ?",
        )
        .bind(id.as_str())
        .bind(producer.as_str())
        .bind(document.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        let jobs = sqlx::query(
            "SELECT seq, record, status, attempts, last_error, next_attempt_at, updated_at \
             FROM delivery_jobs WHERE delivery_id = ? ORDER BY seq",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(Some(DeliveryStatus {
            id: id.clone(),
            document_id: document.clone(),
            created_at: row.time("created_at")?,
            holds_secrets: row.int("holds")? != 0,
            recipients: jobs
                .iter()
                .map(recipient_status)
                .collect::<Result<_, _>>()?,
        }))
    }

    pub(super) async fn claim_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, RepoError> {
        let jobs = sqlx::query(
            "UPDATE delivery_jobs SET next_attempt_at = ?, attempts = attempts + 1, \
             updated_at = ? WHERE (delivery_id, seq) IN (SELECT delivery_id, seq \
             FROM delivery_jobs WHERE status = 'queued' AND next_attempt_at <= ? \
             ORDER BY next_attempt_at, delivery_id, seq LIMIT ?) \
             RETURNING delivery_id, seq, record, idempotency_key, attempts, viewer",
        )
        .bind(millis(lease_until))
        .bind(millis(now))
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut deliveries = HashMap::new();
        let mut claimed = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let id: String = job.text("delivery_id")?;
            if !deliveries.contains_key(&id) {
                let row = sqlx::query(
                    "SELECT producer_id, document_id, operator, fulfillment, \
                     COALESCE(secrets, X'') AS secrets FROM deliveries WHERE id = ?",
                )
                .bind(&id)
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
                deliveries.insert(id.clone(), row);
            }
            let delivery = &deliveries[&id];
            claimed.push(claimed_job(job, delivery, self.records())?);
        }
        // `RETURNING` order is unspecified; recipients go out in order within a batch.
        claimed.sort_by(|a: &ClaimedJob, b| {
            (a.delivery_id.as_str(), a.seq).cmp(&(b.delivery_id.as_str(), b.seq))
        });
        Ok(claimed)
    }

    pub(super) async fn finish_jobs(
        &self,
        finished: &[FinishedJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepoError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let mut done = Vec::with_capacity(finished.len());
        for job in finished {
            let (status, error, next) = outcome_columns(&job.outcome, now);
            let updated = sqlx::query(
                "UPDATE delivery_jobs SET status = ?, last_error = ?, next_attempt_at = ?, \
                 updated_at = ? WHERE delivery_id = ? AND seq = ? AND status = 'queued'",
            )
            .bind(status.as_str())
            .bind(error)
            .bind(next)
            .bind(millis(now))
            .bind(job.delivery_id.as_str())
            .bind(job.seq)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected()
                == 1;
            if updated && status != JobStatus::Queued {
                sqlx::query(
                    "UPDATE deliveries SET remaining = remaining - 1, \
                     secrets = CASE WHEN remaining <= 1 THEN NULL ELSE secrets END WHERE id = ?",
                )
                .bind(job.delivery_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            done.push(updated);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(done)
    }
}

/// The job columns an outcome writes: status, last error, next attempt (ms).
pub(crate) fn outcome_columns(
    outcome: &JobOutcome,
    now: DateTime<Utc>,
) -> (JobStatus, Option<&str>, i64) {
    match outcome {
        JobOutcome::Sent => (JobStatus::Sent, None, millis(now)),
        JobOutcome::Failed(reason) => (JobStatus::Failed, Some(reason.as_str()), millis(now)),
        JobOutcome::Retry { error, at } => (JobStatus::Queued, Some(error.as_str()), millis(*at)),
    }
}

/// A job row (`seq, record, status, attempts, last_error, next_attempt_at, updated_at`).
pub(crate) fn recipient_status(
    row: &impl crate::codec::Columns,
) -> Result<RecipientStatus, RepoError> {
    let status = JobStatus::parse(&row.text("status")?)
        .ok_or_else(|| RepoError::Corrupt("delivery_jobs.status: unknown".into()))?;
    Ok(RecipientStatus {
        seq: row.int("seq")?,
        record: row.opt_int("record")?,
        status,
        attempts: row.int("attempts")?,
        last_error: row.opt_text("last_error")?,
        next_attempt_at: match status {
            JobStatus::Queued => Some(row.time("next_attempt_at")?),
            JobStatus::Sent | JobStatus::Failed => None,
        },
        updated_at: row.time("updated_at")?,
    })
}

/// What a delivery's sealed fulfillment is bound to (its associated data, with the column).
fn delivery_aad(id: &str) -> String {
    format!("delivery {id}")
}

/// What a job's sealed recipient is bound to.
fn job_aad(id: &str, seq: i64) -> String {
    format!("delivery {id} job {seq}")
}

/// The delivery's fulfillment copy as stored (sealed under the record keys, when held).
pub(crate) fn sealed_delivery(
    cipher: Option<&RecordCipher>,
    delivery: &NewDelivery,
) -> Result<Option<String>, RepoError> {
    let aad = delivery_aad(delivery.id.as_str());
    seal_value(cipher, &aad, "fulfillment", Some(&delivery.fulfillment))
}

/// Each recipient's `viewer` as stored, in `seq` order.
pub(crate) fn sealed_viewers(
    cipher: Option<&RecordCipher>,
    delivery: &NewDelivery,
    recipients: &[NewRecipient],
) -> Result<Vec<Option<String>>, RepoError> {
    (0_i64..)
        .zip(recipients)
        .map(|(seq, recipient)| {
            let aad = job_aad(delivery.id.as_str(), seq);
            seal_value(cipher, &aad, "viewer", Some(&recipient.viewer))
        })
        .collect()
}

/// A claimed job row joined with its delivery row, their sealed columns opened with `cipher`.
pub(crate) fn claimed_job(
    job: &impl crate::codec::Columns,
    delivery: &impl crate::codec::Columns,
    cipher: Option<&RecordCipher>,
) -> Result<ClaimedJob, RepoError> {
    let delivery_id: DocumentId = job.id("delivery_id")?;
    let seq = job.int("seq")?;
    Ok(ClaimedJob {
        viewer: sealed_json(job, "viewer", &job_aad(delivery_id.as_str(), seq), cipher)?
            .ok_or_else(|| RepoError::Corrupt("delivery_jobs.viewer: null".into()))?,
        fulfillment: sealed_json(
            delivery,
            "fulfillment",
            &delivery_aad(delivery_id.as_str()),
            cipher,
        )?
        .ok_or_else(|| RepoError::Corrupt("deliveries.fulfillment: null".into()))?,
        delivery_id,
        seq,
        record: job.opt_int("record")?,
        idempotency_key: job.text("idempotency_key")?,
        attempts: job.int("attempts")?,
        producer_id: delivery.id("producer_id")?,
        document_id: delivery.id("document_id")?,
        operator: delivery.opt_text("operator")?,
        // Read as `COALESCE(secrets, empty)`: a wiped delivery holds no secrets.
        secrets: Some(delivery.bytes("secrets")?).filter(|bytes| !bytes.is_empty()),
    })
}
