//! Deliveries and their jobs (migration 0007): queued by `POST /documents/{docId}/deliver`,
//! claimed and finished by the API servers' delivery workers. Several workers may claim from
//! the same queue: SQLite serializes writers, so a claim (one `UPDATE … RETURNING`) can never
//! hand a job to two of them; on PostgreSQL the claim locks the due rows it picks with
//! `FOR UPDATE SKIP LOCKED`, so concurrent claims take disjoint jobs instead of waiting for
//! (or repeating) each other's.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::query::Sql;
use super::{Dialect, SqlRepository, sql};
use crate::cipher::RecordCipher;
use crate::codec::{self, Columns as _, millis, seal_value, sealed_json};
use crate::ids::{DocumentId, ProducerId};
use crate::repo::delivery::{
    ClaimedJob, DeliveryStatus, FinishedJob, JobOutcome, JobStatus, NewDelivery, NewRecipient,
    RecipientStatus,
};
use crate::repo::{DeliveryRepo, RepoError};

/// Jobs per `INSERT`: 8 values each, far below SQLite's 32,766 bound variables and
/// PostgreSQL's 65,535 parameters.
const INSERT_CHUNK: usize = 1000;

#[async_trait]
impl<D: Dialect> DeliveryRepo for SqlRepository<D> {
    async fn insert_delivery(
        &self,
        delivery: &NewDelivery,
        recipients: &[NewRecipient],
    ) -> Result<(), RepoError> {
        // The fulfillment copy (its headers and body may hold credentials) and each job's
        // recipient (audience record values) are sealed like the document's own columns.
        let fulfillment = sealed_delivery(self.records(), delivery)?;
        let viewers = sealed_viewers(self.records(), delivery, recipients)?;
        let mut tx = D::begin_write(&self.pool).await?;
        sql(
            "INSERT INTO deliveries (id, producer_id, document_id, operator, fulfillment, \
             remaining, created_at, secrets, environment) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(delivery.id.as_str())
        .bind(delivery.producer_id.as_str())
        .bind(delivery.document_id.as_str())
        .bind(&delivery.operator)
        .bind(fulfillment)
        .bind(recipients.len() as i64)
        .bind(millis(delivery.created_at))
        .bind(&delivery.secrets)
        .bind(delivery.environment.as_str())
        .execute(D::on_conn(&mut tx))
        .await?;
        let due = millis(delivery.created_at);
        for (chunk_index, chunk) in recipients.chunks(INSERT_CHUNK).enumerate() {
            let mut insert = Sql::composed(insert_jobs_text(chunk.len()));
            for (i, recipient) in chunk.iter().enumerate() {
                let seq = chunk_index * INSERT_CHUNK + i;
                insert = insert
                    .bind(delivery.id.as_str())
                    .bind(seq as i64)
                    .bind(recipient.record)
                    .bind(&recipient.idempotency_key)
                    .bind(JobStatus::Queued.as_str())
                    .bind(due)
                    .bind(due)
                    .bind(&viewers[seq]);
            }
            insert.execute(D::on_conn(&mut tx)).await?;
        }
        tx.commit().await.map_err(codec::db_error)
    }

    async fn delivery(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
        id: &DocumentId,
    ) -> Result<Option<DeliveryStatus>, RepoError> {
        let Some(row) = sql(
            "SELECT created_at, CAST(CASE WHEN secrets IS NULL THEN 0 ELSE 1 END AS BIGINT) AS holds \
             FROM deliveries \
             WHERE id = $1 AND producer_id = $2 AND document_id = $3",
        )
        .bind(id.as_str())
        .bind(producer.as_str())
        .bind(document.as_str())
        .fetch_optional(self.db())
        .await?
        else {
            return Ok(None);
        };
        let jobs = sql(
            "SELECT seq, record, status, attempts, last_error, next_attempt_at, updated_at, \
             captured FROM delivery_jobs WHERE delivery_id = $1 ORDER BY seq",
        )
        .bind(id.as_str())
        .fetch_all(self.db())
        .await?;
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

    async fn claim_delivery_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, RepoError> {
        let jobs = sql(D::texts().claim_jobs.as_str())
            .bind(millis(lease_until))
            .bind(millis(now))
            .bind(i64::from(limit))
            .fetch_all(self.db())
            .await?;
        let mut deliveries = HashMap::new();
        let mut claimed = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let id: String = job.text("delivery_id")?;
            if !deliveries.contains_key(&id) {
                let row = sql("SELECT producer_id, document_id, operator, fulfillment, \
                     secrets, environment FROM deliveries WHERE id = $1")
                .bind(&id)
                .fetch_one(self.db())
                .await?;
                deliveries.insert(id.clone(), row);
            }
            claimed.push(claimed_job(job, &deliveries[&id], self.records())?);
        }
        // `RETURNING` order is unspecified; recipients go out in order within a batch.
        claimed
            .sort_by(|a, b| (a.delivery_id.as_str(), a.seq).cmp(&(b.delivery_id.as_str(), b.seq)));
        Ok(claimed)
    }

    async fn capture_delivery_job(
        &self,
        delivery: &DocumentId,
        seq: i64,
        captured: &[u8],
    ) -> Result<(), RepoError> {
        sql("UPDATE delivery_jobs SET captured = $1 WHERE delivery_id = $2 AND seq = $3")
            .bind(captured)
            .bind(delivery.as_str())
            .bind(seq)
            .execute(self.db())
            .await?;
        Ok(())
    }

    async fn finish_delivery_jobs(
        &self,
        finished: &[FinishedJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepoError> {
        let mut tx = D::begin_write(&self.pool).await?;
        let mut done = Vec::with_capacity(finished.len());
        for job in finished {
            let (status, error, next) = outcome_columns(&job.outcome, now);
            let updated = sql(
                "UPDATE delivery_jobs SET status = $1, last_error = $2, next_attempt_at = $3, \
                 updated_at = $4 WHERE delivery_id = $5 AND seq = $6 AND status = 'queued'",
            )
            .bind(status.as_str())
            .bind(error)
            .bind(next)
            .bind(millis(now))
            .bind(job.delivery_id.as_str())
            .bind(job.seq)
            .execute(D::on_conn(&mut tx))
            .await?
                == 1;
            if updated && status != JobStatus::Queued {
                // The row lock this takes orders concurrent finishes of one delivery, so
                // exactly the one that brings `remaining` to 0 wipes the secrets.
                sql("UPDATE deliveries SET remaining = remaining - 1, \
                     secrets = CASE WHEN remaining <= 1 THEN NULL ELSE secrets END WHERE id = $1")
                .bind(job.delivery_id.as_str())
                .execute(D::on_conn(&mut tx))
                .await?;
            }
            done.push(updated);
        }
        tx.commit().await.map_err(codec::db_error)?;
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

/// A job row (`seq, record, status, attempts, last_error, next_attempt_at, updated_at,
/// captured`).
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
        captured: row.opt_bytes("captured")?,
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
        // A wiped delivery holds no secrets.
        secrets: delivery
            .opt_bytes("secrets")?
            .filter(|bytes| !bytes.is_empty()),
        environment: codec::environment(delivery)?,
    })
}

/// `INSERT INTO delivery_jobs … VALUES` with `rows` rows of 8 numbered placeholders.
fn insert_jobs_text(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let first = row * 8;
            let row: Vec<String> = (first + 1..=first + 8).map(|n| format!("${n}")).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO delivery_jobs (delivery_id, seq, record, idempotency_key, status, \
         next_attempt_at, updated_at, viewer) VALUES {}",
        values.join(", ")
    )
}
