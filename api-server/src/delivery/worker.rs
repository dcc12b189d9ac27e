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
use schema::objects::{Fulfillment, Var, parse_fulfillment};
use schema::repo::delivery::{ClaimedJob, FinishedJob, JobOutcome};
use schema::{ApiLogRecord, Repository};
use secrecy::{ExposeSecret as _, SecretString};
use shared::config::DeliverySettings;
use shared::group_commit::GroupCommit;
use shared::sealed::{MAX_SEALED_LEN, SealKeys, SealedLink};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::attempt::{Attempt, Failure};
use super::email::{self, EmailTemplates, SmtpServer};
use super::http::{self, HttpTemplates};
use super::secrets::{DeliverySecrets, SecretsKey};
use super::viewer::{RESERVED, Viewer, variables};
use super::{backoff, xmlrpc};
use crate::access_log::ApiAudit;
use crate::context::Links;

/// The method column of an attempt's API-log record.
pub const LOG_METHOD: &str = "DELIVER";

pub struct Worker {
    pub repo: Arc<dyn Repository>,
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
            let now = Utc::now();
            match self
                .repo
                .claim_delivery_jobs(now, now + lease, free as u32)
                .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            break; // cannot happen: only this loop takes slots
                        };
                        let worker = self.clone();
                        tokio::spawn(async move { worker.attempt(job, permit).await });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "claiming delivery jobs failed; retrying"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
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
        let finished = FinishedJob {
            delivery_id: job.delivery_id.clone(),
            seq: job.seq,
            outcome,
        };
        // Both are group-committed with other attempts' (one transaction for many).
        let (logged, recorded) = tokio::join!(self.audit.write(log), self.finisher.write(finished));
        if !logged {
            tracing::warn!(delivery = %job.delivery_id.as_str(), "an attempt's API-log record could not be written");
        }
        if !recorded {
            // Left queued: due again when the lease runs out, and resent with the same key.
            tracing::warn!(delivery = %job.delivery_id.as_str(), "an attempt's outcome could not be recorded");
        }
        tracing::info!(
            delivery = %job.delivery_id.as_str(),
            recipient = job.seq,
            attempts = job.attempts,
            outcome = label,
            "delivery attempt"
        );
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

    /// Fills the fulfillment for this job's viewer and sends it.
    async fn send(&self, job: &ClaimedJob) -> Attempt {
        let document = self
            .documents
            .get(
                self.repo.as_ref(),
                &self.links,
                &job.producer_id,
                &job.document_id,
            )
            .await
            .map_err(|_| Failure::transient("the database could not be read"))?
            .ok_or_else(|| Failure::permanent("the document was deleted"))?;
        if document.expiration <= Utc::now() {
            return Err(Failure::permanent("the document expired"));
        }
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
        let link = |viewer: &Viewer| -> Result<String, Failure> {
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
        };
        // A batch (one request for every record): `link` and each record field become lists,
        // one item per record in audience order ("" where a record lacks the field); otherwise
        // `link` is this recipient's own sealed link.
        let (own_link, batch) = match viewer.members.is_empty() {
            true => (Some(("link", link(&viewer)?)), None),
            false => (None, Some(batch_lists(&viewer.members, link)?)),
        };
        let own: Vec<(&'static str, String)> = own_link
            .into_iter()
            .chain([
                ("placeholder", document.placeholder_href.clone()),
                ("docId", document.id.as_str().to_owned()),
            ])
            .collect();
        let values = variables(&own, &viewer, &secrets.form);
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        match &fulfillment {
            Fulfillment::Http {
                href,
                headers,
                content_type,
                body,
                ..
            } => {
                let templates = HttpTemplates {
                    href,
                    headers,
                    content_type,
                    body,
                };
                let vars = match &batch {
                    Some(lists) => batch_vars(lists, &own, &secrets.form),
                    None => values.iter().map(|(n, v)| (*n, Var::Text(v))).collect(),
                };
                http::send(
                    &self.client,
                    &self.egress,
                    &templates,
                    &vars,
                    &job.idempotency_key,
                )
                .await
            }
            Fulfillment::XmlRpc {
                href,
                method_name,
                params,
            } => {
                let templates = xmlrpc::XmlRpcTemplates {
                    href,
                    method_name,
                    params,
                };
                xmlrpc::send(
                    &self.client,
                    &self.egress,
                    &templates,
                    &values,
                    &job.idempotency_key,
                )
                .await
            }
            Fulfillment::Email {
                from,
                to,
                subject,
                body,
            } => {
                let url = secrets
                    .smtp_url
                    .as_deref()
                    .unwrap_or(self.default_smtp.expose_secret());
                let server = SmtpServer::parse(url)
                    .map_err(|detail| Failure::permanent(format!("smtp_url {detail}")))?;
                let templates = EmailTemplates {
                    from,
                    to,
                    subject,
                    body,
                };
                // lettre's timeout is per SMTP command; the attempt as a whole gets one too.
                let send = email::send(
                    &server,
                    &self.egress,
                    &templates,
                    &values,
                    &job.idempotency_key,
                    timeout,
                );
                tokio::time::timeout(timeout, send)
                    .await
                    .unwrap_or_else(|_| Err(Failure::transient("the SMTP exchange timed out")))
            }
        }
    }
}

/// A batch's list variables: `link` (each member's sealed link), then every record field named
/// by any member, each a list in member order.
fn batch_lists(
    members: &[Viewer],
    link: impl Fn(&Viewer) -> Result<String, Failure>,
) -> Result<Vec<(String, Vec<String>)>, Failure> {
    let links = members.iter().map(&link).collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<&str> = Vec::new();
    for member in members {
        for (name, _) in &member.fields {
            if !names.contains(&name.as_str()) && !RESERVED.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut lists = vec![("link".to_owned(), links)];
    for name in names {
        let items = members
            .iter()
            .map(|member| {
                (member.fields.iter())
                    .find(|(field, _)| field == name)
                    .map_or_else(String::new, |(_, value)| value.clone())
            })
            .collect();
        lists.push((name.to_owned(), items));
    }
    Ok(lists)
}

/// A batch's variables, first match winning as in [`variables`]: the lists, Sealpost's own
/// strings (`placeholder`, `docId`), then the deliver request's form fields.
fn batch_vars<'a>(
    lists: &'a [(String, Vec<String>)],
    own: &'a [(&'static str, String)],
    form: &'a [(String, String)],
) -> Vec<(&'a str, Var<'a>)> {
    (lists
        .iter()
        .map(|(name, items)| (name.as_str(), Var::List(items))))
    .chain(own.iter().map(|(name, value)| (*name, Var::Text(value))))
    .chain(
        form.iter()
            .map(|(name, value)| (name.as_str(), Var::Text(value))),
    )
    .collect()
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
