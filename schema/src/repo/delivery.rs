//! What deliveries store: a delivery per deliver request, a job per recipient.
use chrono::{DateTime, Utc};

use crate::credentials::Environment;
use crate::ids::{DocumentId, ProducerId};

/// A delivery to queue. Its id has the form of a [`DocumentId`] (128 random bits).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub id: DocumentId,
    pub producer_id: ProducerId,
    pub document_id: DocumentId,
    /// The login email of whoever asked for it, for the API-log records of its attempts.
    pub operator: Option<String>,
    /// The document's fulfillment object when the delivery was queued.
    pub fulfillment: serde_json::Value,
    /// Sealed by the caller; the repository only stores and wipes it.
    pub secrets: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// Its document's environment: a test delivery's messages are captured, never sent.
    pub environment: Environment,
}

/// One recipient of a delivery, in order (its position is its `seq`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecipient {
    /// The audience record it stands for, when the audience has records.
    pub record: Option<i64>,
    /// The same for every attempt, e.g. `{deliveryId}.{seq}`.
    pub idempotency_key: String,
    /// The values its templates and sealed link are made from (JSON, opaque here).
    pub viewer: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Sent,
    Failed,
}

impl JobStatus {
    /// The stored (and shown) name: `queued`, `sent` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A job a worker claimed, with what its delivery says.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub delivery_id: DocumentId,
    pub seq: i64,
    pub record: Option<i64>,
    pub idempotency_key: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub viewer: serde_json::Value,
    pub producer_id: ProducerId,
    pub document_id: DocumentId,
    pub operator: Option<String>,
    pub fulfillment: serde_json::Value,
    pub secrets: Option<Vec<u8>>,
    /// The delivery's environment (see [`NewDelivery::environment`]).
    pub environment: Environment,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Sent,
    /// Final: no more attempts. The reason is shown to the producer.
    Failed(String),
    /// Another attempt at `at`; the error is shown meanwhile.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
}

/// The outcome of one attempt at job `seq` of delivery `delivery_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedJob {
    pub delivery_id: DocumentId,
    pub seq: i64,
    pub outcome: JobOutcome,
}

/// A delivery and its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryStatus {
    pub id: DocumentId,
    pub document_id: DocumentId,
    pub created_at: DateTime<Utc>,
    /// Whether its secrets are still held (jobs remain queued).
    pub holds_secrets: bool,
    pub recipients: Vec<RecipientStatus>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecipientStatus {
    pub seq: i64,
    pub record: Option<i64>,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When the next attempt is due (queued jobs only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// A test delivery's message as it would have been sent, sealed by the caller of
    /// [`capture_delivery_job`](crate::DeliveryRepo::capture_delivery_job).
    pub captured: Option<Vec<u8>>,
}
