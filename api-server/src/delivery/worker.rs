//! The delivery worker: one per API server process. It claims due jobs from the database (so
//! they survive restarts, and several servers can share the queue: see the repository's
//! `claim_delivery_jobs`), runs at most `delivery.concurrency` attempts at once, and records
//! each attempt's outcome and its API-log record.
//!
//! A claimed job is leased (`delivery.lease_ms`): when this process dies mid-attempt the job is
//! due again once the lease runs out, and is sent again with the same idempotency key.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schema::objects::parse_fulfillment;
use schema::repo::delivery::{ClaimedJob, FinishedJob, JobOutcome};
use schema::{ApiLogRecord, DeliveryRepo, DocumentRepo, Environment};
use secrecy::{ExposeSecret as _, SecretString};
use shared::config::DeliverySettings;
use shared::group_commit::GroupCommit;
use shared::sealed::{MAX_SEALED_LEN, SealKeys, SealedLink};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::attempt::{Attempt, Failure};
use super::documents::DocumentInfo;
use super::email::{self, EmailTemplates, SmtpServer};
use super::message::{Channel, Message};
use super::secrets::{DeliverySecrets, SecretsKey};
use super::viewer::Viewer;
use super::{backoff, capture, http, xmlrpc};
use crate::access_log::ApiAudit;
use crate::context::Links;

/// The method column of an attempt's API-log record.
pub const LOG_METHOD: &str = "DELIVER";

pub struct Worker {
    /// The delivery queue: claims jobs (finished ones go through [`Self::finisher`]).
    pub queue: Arc<dyn DeliveryRepo>,
    /// The documents a job links to.
    pub records: Arc<dyn DocumentRepo>,
    pub seal_keys: SealKeys,
    pub links: Links,
    pub key: Arc<SecretsKey>,
    pub default_smtp: SecretString,
    pub settings: DeliverySettings,
    /// Built under [`Self::egress`] (its resolver, no redirects, no proxy).
    pub client: reqwest::Client,
    pub egress: Arc<shared::egress::EgressPolicy>,
    pub audit: ApiAudit,
    /// Records attempts' outcomes, batched (`Repository::finish_delivery_jobs`).
    pub finisher: GroupCommit<FinishedJob>,
    pub documents: super::documents::DocumentCache,
    pub metrics: shared::ops::Metrics,
}

impl Worker {
    /// Runs until `stop` is cancelled; `wake` cuts a poll interval short (a delivery was queued).
    pub async fn run(self: Arc<Self>, wake: Arc<Notify>, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.concurrency));
        let poll = Duration::from_millis(self.settings.poll_ms.max(1));
        let lease = chrono::Duration::milliseconds(self.settings.lease_ms as i64);
        // Claims wait until a quarter of the slots are free: a claim is a write transaction
        // (an fsync on SQLite), too dear to pay for every single job that ends.
        let batch = (self.settings.concurrency / 4).max(1);
        loop {
            let free = slots.available_permits();
            if free < batch {
                tokio::select! {
                    () = stop.cancelled() => return,
                    permit = slots.clone().acquire_owned() => drop(permit),
                }
                continue;
            }
            if self.claim(&slots, lease, free).await {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Claims up to `free` due jobs and starts an attempt at each, in a slot of its own; false
    /// when none was due (or the claim failed).
    async fn claim(
        self: &Arc<Self>,
        slots: &Arc<Semaphore>,
        lease: chrono::Duration,
        free: usize,
    ) -> bool {
        let now = Utc::now();
        let jobs = match (self.queue)
            .claim_delivery_jobs(now, now + lease, free as u32)
            .await
        {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(%error, "claiming delivery jobs failed; retrying");
                return false;
            }
        };
        let claimed = !jobs.is_empty();
        for job in jobs {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break; // cannot happen: only this loop takes slots
            };
            let worker = self.clone();
            tokio::spawn(async move { worker.attempt(job, permit).await });
        }
        claimed
    }

    /// One attempt at one job, its API-log record and its outcome. The slot is given back as
    /// soon as the receiver answered: the limit is on attempts in flight at receivers, and the
    /// two group commits that follow need not hold one (they would halve the throughput).
    ///
    /// Like a state-changing API request, an attempt fails closed on the audit log: its intent
    /// record (end-time and status `-`) is committed before anything is sent, and when it cannot
    /// be, nothing is sent and the job is retried later.
    async fn attempt(&self, job: ClaimedJob, slot: OwnedSemaphorePermit) {
        let start = Utc::now();
        let result = if self.audit.write(log_record(&job, start, None, None)).await {
            self.send(&job).await
        } else {
            Err(Failure::transient(
                "the audit log could not be written, so nothing was sent",
            ))
        };
        drop(slot);
        let end = Utc::now();
        let status = match &result {
            Ok(status) => *status,
            Err(failure) => failure.status,
        };
        let outcome = self.outcome(&job, result, end);
        let log = log_record(&job, start, Some(end), status);
        let label = match &outcome {
            JobOutcome::Sent => "sent",
            JobOutcome::Failed(_) => "failed",
            JobOutcome::Retry { .. } => "retry",
        };
        self.metrics.delivery(label);
        self.record(&job, log, outcome).await;
        tracing::info!(
            delivery = %job.delivery_id.as_str(),
            recipient = job.seq,
            attempts = job.attempts,
            outcome = label,
            "delivery attempt"
        );
    }

    /// Writes an attempt's API-log record and its outcome, both group-committed with other
    /// attempts' (one transaction for many).
    async fn record(&self, job: &ClaimedJob, log: ApiLogRecord, outcome: JobOutcome) {
        let finished = FinishedJob {
            delivery_id: job.delivery_id.clone(),
            seq: job.seq,
            outcome,
        };
        let (logged, recorded) = tokio::join!(self.audit.write(log), self.finisher.write(finished));
        if !logged {
            tracing::warn!(delivery = %job.delivery_id.as_str(), "an attempt's API-log record could not be written");
        }
        if !recorded {
            // Left queued: due again when the lease runs out, and resent with the same key.
            tracing::warn!(delivery = %job.delivery_id.as_str(), "an attempt's outcome could not be recorded");
        }
    }

    fn outcome(&self, job: &ClaimedJob, result: Attempt, end: DateTime<Utc>) -> JobOutcome {
        match result {
            Ok(_) => JobOutcome::Sent,
            Err(Failure {
                reason,
                transient: false,
                ..
            }) => JobOutcome::Failed(reason),
            Err(Failure { reason, .. })
                if job.attempts >= i64::from(self.settings.max_attempts) =>
            {
                JobOutcome::Failed(format!(
                    "{reason} (gave up after {} attempts)",
                    job.attempts
                ))
            }
            Err(Failure { reason, .. }) => {
                let delay = backoff::delay(
                    job.attempts,
                    Duration::from_millis(self.settings.backoff_base_ms),
                    Duration::from_millis(self.settings.backoff_max_ms),
                );
                JobOutcome::Retry {
                    error: reason,
                    at: end + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                }
            }
        }
    }

    /// Renders the message for this job's recipient, then sends it through the fulfillment's
    /// channel.
    async fn send(&self, job: &ClaimedJob) -> Attempt {
        let document = self.document(job).await?;
        let secrets = match &job.secrets {
            Some(sealed) => self
                .key
                .open(job.delivery_id.as_str(), sealed)
                .map_err(|error| Failure::permanent(error.to_string()))?,
            None => DeliverySecrets::default(),
        };
        let fulfillment = parse_fulfillment(&job.fulfillment)
            .map_err(|_| Failure::permanent("the stored fulfillment object is not valid"))?;
        let viewer: Viewer = serde_json::from_value(job.viewer.clone())
            .map_err(|_| Failure::permanent("the stored recipient is not valid"))?;
        let document_names = (document.placeholder_href.as_str(), document.id.as_str());
        let link = |viewer: &Viewer| self.sealed_link(&document, viewer);
        let message = Message::new(document_names, secrets, viewer, link)?;
        let key = job.idempotency_key.as_str();
        if job.environment == Environment::Test {
            return self
                .capture(job, &Channel::of(&fulfillment), &message)
                .await;
        }
        match Channel::of(&fulfillment) {
            Channel::Http(templates) => {
                http::send(&self.client, &self.egress, &templates, &message.vars(), key).await
            }
            Channel::XmlRpc(templates) => {
                let values = (&message.values()[..], message.data());
                xmlrpc::send(&self.client, &self.egress, &templates, values, key).await
            }
            Channel::Email(templates) => self.send_email(&templates, &message, key).await,
        }
    }

    /// A test delivery's attempt: the message rendered as it would be sent, sealed and kept
    /// for the status (see [`super::capture`]); nothing leaves the machine. The API log shows
    /// the attempt with status `-` (no receiver answered).
    async fn capture(&self, job: &ClaimedJob, channel: &Channel<'_>, message: &Message) -> Attempt {
        let smtp = self.default_smtp.expose_secret();
        let key = job.idempotency_key.as_str();
        let captured = capture::render(&self.client, &self.egress, channel, message, (key, smtp))?;
        let aad = capture::aad(job.delivery_id.as_str(), job.seq);
        let sealed = (self.key.seal_value(&aad, &captured))
            .map_err(|_| Failure::transient("the captured message could not be sealed"))?;
        (self
            .queue
            .capture_delivery_job(&job.delivery_id, job.seq, &sealed)
            .await)
            .map_err(|_| Failure::transient("the captured message could not be stored"))?;
        Ok(None)
    }

    /// The job's document, unless it was deleted or has expired.
    async fn document(&self, job: &ClaimedJob) -> Result<Arc<DocumentInfo>, Failure> {
        let (repo, links) = (self.records.as_ref(), &self.links);
        let tenant = schema::Tenant::new(job.producer_id.clone(), job.environment);
        let document = (self.documents)
            .get(repo, links, &tenant, &job.document_id)
            .await
            .map_err(|_| Failure::transient("the database could not be read"))?
            .ok_or_else(|| Failure::permanent("the document was deleted"))?;
        if document.expiration <= Utc::now() {
            return Err(Failure::permanent("the document expired"));
        }
        Ok(document)
    }

    /// `{gateway}/l/{sealed}`: `viewer`'s sealed link to `document`.
    fn sealed_link(&self, document: &DocumentInfo, viewer: &Viewer) -> Result<String, Failure> {
        let sealed = self
            .seal_keys
            .seal(&SealedLink {
                placeholder: document.placeholder_id.clone(),
                viewer_token: viewer.token.clone(),
            })
            .map_err(|_| Failure::transient("the sealed link could not be made"))?;
        if sealed.len() > MAX_SEALED_LEN {
            return Err(Failure::permanent(
                "the viewer-token values are too long for a sealed link",
            ));
        }
        Ok(format!("{}/l/{sealed}", self.links.gateway_root))
    }

    /// Email: the request's SMTP server (else `delivery.smtp_url`), under one timeout for the
    /// whole exchange (lettre's timeout is per SMTP command).
    async fn send_email(
        &self,
        templates: &EmailTemplates<'_>,
        message: &Message,
        message_id: &str,
    ) -> Attempt {
        let url =
            (message.secrets.smtp_url.as_deref()).unwrap_or(self.default_smtp.expose_secret());
        let server = SmtpServer::parse(url)
            .map_err(|detail| Failure::permanent(format!("smtp_url {detail}")))?;
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let values = message.values();
        let send = email::send(
            &server,
            &self.egress,
            templates,
            &values,
            message_id,
            timeout,
        );
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or_else(|_| Err(Failure::transient("the SMTP exchange timed out")))
    }
}

/// The API-log record of one attempt (`end` and `status` `None` for its intent record): docId,
/// end, start, no remote address, method `DELIVER`,
/// `/documents/{docId}/deliveries/{id}/recipients/{n}`, the receiver's status (HTTP status or
/// SMTP reply code; `-` when it gave none), then the hit-number, the producer and the email of
/// the operator who asked for the delivery.
fn log_record(
    job: &ClaimedJob,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    status: Option<u16>,
) -> ApiLogRecord {
    let uri = format!(
        "/documents/{}/deliveries/{}/recipients/{}",
        job.document_id.as_str(),
        job.delivery_id.as_str(),
        job.seq
    );
    ApiLogRecord {
        producer_id: Some(job.producer_id.clone()),
        document_id: Some(job.document_id.clone()),
        time: end.unwrap_or(start),
        head: shared::logline::RequestHead {
            document: Some(job.document_id.as_str()),
            start,
            end,
            remote: None,
            method: LOG_METHOD,
            uri: &uri,
            status,
        }
        .line(),
        tail: shared::logline::join_columns(&[job.operator.as_deref()]),
    }
}
