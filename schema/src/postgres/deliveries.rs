//! Deliveries and their jobs (migration 0007), PostgreSQL dialect. Several API servers' workers
//! claim from the same queue: the claim locks the due rows it picks with `FOR UPDATE SKIP
//! LOCKED`, so concurrent claims take disjoint jobs instead of waiting for (or repeating) each
//! other's. The row mappings are the SQLite twin's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::PgRepository;
use crate::codec::{Columns as _, db_error, millis};
use crate::ids::{DocumentId, ProducerId};
use crate::repo::RepoError;
use crate::repo::delivery::{
    ClaimedJob, DeliveryStatus, FinishedJob, JobStatus, NewDelivery, NewRecipient,
};
use crate::sqlite::deliveries::{
    claimed_job, outcome_columns, recipient_status, sealed_delivery, sealed_viewers,
};

/// Jobs per `INSERT` (8 values each, far below PostgreSQL's 65,535 bound parameters).
const INSERT_CHUNK: usize = 1000;

impl PgRepository {
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
             remaining, created_at, secrets) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
            "SELECT created_at, (CASE WHEN secrets IS NULL THEN 0 ELSE 1 END)::BIGINT AS holds FROM deliveries \
             WHERE id = $1 AND producer_id = $2 AND document_id = $3",
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
             FROM delivery_jobs WHERE delivery_id = $1 ORDER BY seq",
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
            "UPDATE delivery_jobs SET next_attempt_at = $1, attempts = attempts + 1, \
             updated_at = $2 WHERE (delivery_id, seq) IN (SELECT delivery_id, seq \
             FROM delivery_jobs WHERE status = 'queued' AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, delivery_id, seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING delivery_id, seq, record, idempotency_key, attempts, viewer",
        )
        .bind(millis(lease_until))
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
                     COALESCE(secrets, ''::BYTEA) AS secrets FROM deliveries WHERE id = $1",
                )
                .bind(&id)
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
                deliveries.insert(id.clone(), row);
            }
            claimed.push(claimed_job(job, &deliveries[&id], self.records())?);
        }
        // `RETURNING` order is unspecified; recipients go out in order within a batch.
        claimed
            .sort_by(|a, b| (a.delivery_id.as_str(), a.seq).cmp(&(b.delivery_id.as_str(), b.seq)));
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
                "UPDATE delivery_jobs SET status = $1, last_error = $2, next_attempt_at = $3, \
                 updated_at = $4 WHERE delivery_id = $5 AND seq = $6 AND status = 'queued'",
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
                // The row lock this takes orders concurrent finishes of one delivery, so
                // exactly the one that brings `remaining` to 0 wipes the secrets.
                sqlx::query(
                    "UPDATE deliveries SET remaining = remaining - 1, \
                     secrets = CASE WHEN remaining <= 1 THEN NULL ELSE secrets END WHERE id = $1",
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
