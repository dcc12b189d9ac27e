//! Fulfillment: `POST /documents/{docId}/deliver` queues a durable delivery; a worker in each
//! API server sends every recipient its sealed link through the document's fulfillment (HTTP,
//! email or XML-RPC), retrying with backoff (docs/delivery.md).
//!
//! # Layout
//! - [`request`]: the deliver request's form fields and `smtp_url`.
//! - [`queue`]: checks a deliver request, stores the delivery and its jobs; reads status back.
//! - [`viewer`]: the recipients of an audience and the template variables of one attempt.
//! - [`secrets`]: the form fields and SMTP URL, sealed while the delivery runs.
//! - [`worker`]: claims due jobs, runs attempts under a concurrency limit, records outcomes.
//! - [`attempt`], [`backoff`]: how an attempt ended and when the next one is due.
//! - [`documents`]: the documents attempts read, cached for a second.
//! - [`message`]: one attempt's variables, rendered before its channel's sender fills them.
//! - [`http`], [`email`], [`xmlrpc`]: the three senders.
//! - [`capture`]: a test document's deliveries, rendered and kept instead of sent.
//! - [`mod@status`]: a delivery's JSON.

pub mod attempt;
pub mod backoff;
pub mod capture;
pub mod documents;
pub mod email;
pub mod http;
pub mod message;
pub mod queue;
pub mod request;
pub mod secrets;
pub mod status;
pub mod viewer;
pub mod worker;
pub mod xmlrpc;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use schema::repo::delivery::FinishedJob;
use schema::{DeliveryRepo, Repository};
use secrecy::SecretString;
use shared::config::{DeliverySettings, EgressSettings};
use shared::egress::{EgressPolicy, Scope};
use shared::group_commit::GroupCommit;
use shared::keys::SigningKey;
use shared::sealed::SealKeys;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use queue::{deliver, status, status_json};

use crate::context::Links;

/// What the deliver route needs, and the worker's lifetime: the worker stops when this (the
/// API context holding it) is dropped.
pub struct Deliveries {
    key: Arc<secrets::SecretsKey>,
    smtp_url: SecretString,
    wake: Arc<Notify>,
    _worker: DropGuard,
}

/// Starts this process's delivery worker on the current tokio runtime (none when
/// `delivery.concurrency` is 0) and returns the handle the API context keeps.
pub fn start(
    settings: &DeliverySettings,
    egress: &EgressSettings,
    instance_key: &SigningKey,
    seal_keys_file: &Path,
    repo: Arc<dyn Repository>,
    links: Links,
    metrics: &shared::ops::Metrics,
) -> anyhow::Result<Deliveries> {
    check_settings(settings)?;
    // Every request a delivery makes passes the egress policy (issue 14, finding 3).
    let egress = Arc::new(EgressPolicy::from_settings(egress).map_err(anyhow::Error::msg)?);
    let key = Arc::new(secrets::SecretsKey::derive(instance_key.pkcs8_der()));
    let wake = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    if settings.concurrency > 0 {
        let worker = Arc::new(worker::Worker {
            audit: crate::access_log::ApiAudit::spawn_metered(repo.clone(), metrics.clone()),
            finisher: finisher(repo.clone(), metrics.clone()),
            queue: repo.clone(),
            records: repo,
            seal_keys: SealKeys::load_or_create(seal_keys_file)
                .context("loading the seal keys for delivery")?,
            links,
            key: key.clone(),
            default_smtp: settings.smtp_url.clone(),
            settings: settings.clone(),
            client: http_client(settings, &egress)?,
            egress,
            documents: documents::DocumentCache::default(),
            metrics: metrics.clone(),
        });
        tokio::spawn(worker.run(wake.clone(), stop.clone()));
    }
    Ok(Deliveries {
        key,
        smtp_url: settings.smtp_url.clone(),
        wake,
        _worker: stop.drop_guard(),
    })
}

/// Refuses settings a worker could not honour: a lease shorter than an attempt (a second
/// worker would resend a job still in flight) or a malformed SMTP URL.
fn check_settings(settings: &DeliverySettings) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.lease_ms > settings.timeout_ms,
        "delivery.lease_ms ({}) must exceed delivery.timeout_ms ({})",
        settings.lease_ms,
        settings.timeout_ms
    );
    use secrecy::ExposeSecret as _;
    let url = settings.smtp_url.expose_secret();
    if !url.is_empty() {
        email::SmtpServer::parse(url)
            .map_err(|detail| anyhow::anyhow!("delivery.smtp_url {detail}"))?;
    }
    Ok(())
}

/// The HTTP client of hook and XML-RPC deliveries, under `egress`.
fn http_client(
    settings: &DeliverySettings,
    egress: &Arc<EgressPolicy>,
) -> anyhow::Result<reqwest::Client> {
    egress
        .http_client(reqwest::Client::builder(), Scope::Default)
        .timeout(Duration::from_millis(settings.timeout_ms))
        .pool_max_idle_per_host(settings.concurrency)
        .tcp_nodelay(true)
        .build()
        .context("building the delivery HTTP client")
}

/// Records finished attempts in batches (group commit), one transaction per batch.
fn finisher(
    repo: Arc<dyn DeliveryRepo>,
    metrics: shared::ops::Metrics,
) -> GroupCommit<FinishedJob> {
    GroupCommit::spawn_metered("deliveries", metrics, false, move |batch: Vec<_>| {
        let repo = repo.clone();
        async move {
            repo.finish_delivery_jobs(&batch, chrono::Utc::now())
                .await
                .map(drop)
        }
    })
}
