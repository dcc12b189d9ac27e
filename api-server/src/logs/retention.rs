//! Audit-log retention (issue 7, item 6): each log's lines older than its configured retention
//! are deleted by a periodic sweep, and the sweep itself is recorded in the API log.
//!
//! Fail closed like every other audited action: an instance-level record (no producer) saying
//! which log is about to be purged, and up to when, is committed before any line is deleted; if
//! it cannot be written nothing is deleted. After the purge, each producer whose lines were
//! removed gets a record in their own API log with the count, so the producer's auditor finds
//! it in `GET /logs` beside the gap it explains (and the hash chain shows that the export's
//! first line follows lines no longer held). Documents, hit counters and chain heads are never
//! touched, and deleting a document never deletes its audit history.
//!
//! The records: `-  end  start  -  RETENTION  {log} before {cutoff}[: {n} lines]  -  -
//! {publisher-id or -}  -`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schema::{ApiLogRecord, LogKind, LogRepo, ProducerId, RepoError};
use shared::config::AuditSettings;
use shared::logline::{RequestHead, time};
use tokio::task::JoinHandle;

/// The method column of sweep records (never an HTTP method).
pub const METHOD: &str = "RETENTION";

/// The logs with a retention set, and their retention in days.
pub fn policy(settings: &AuditSettings) -> Vec<(LogKind, u32)> {
    [
        (LogKind::Api, settings.api_retention_days),
        (LogKind::Gateway, settings.gateway_retention_days),
        (LogKind::Vault, settings.vault_retention_days),
    ]
    .into_iter()
    .filter(|(_, days)| *days > 0)
    .collect()
}

/// Runs [`sweep`] every `retention_sweep_secs` until aborted; `None` when no log has a
/// retention (the default: keep everything).
pub fn spawn_retention_sweeper(
    repo: Arc<dyn LogRepo>,
    settings: &AuditSettings,
) -> Option<JoinHandle<()>> {
    let policy = policy(settings);
    if policy.is_empty() {
        return None;
    }
    let interval = Duration::from_secs(settings.retention_sweep_secs.max(1));
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = sweep(&*repo, &policy, Utc::now()).await {
                tracing::warn!(error = %error, "audit retention sweep failed; retrying next tick");
            }
        }
    }))
}

/// Purges each log in `policy` of its lines older than `now` less its retention, recording the
/// sweep in the API log (module docs). Returns the lines deleted.
pub async fn sweep(
    repo: &dyn LogRepo,
    policy: &[(LogKind, u32)],
    now: DateTime<Utc>,
) -> Result<u64, RepoError> {
    let mut total = 0;
    for &(kind, days) in policy {
        let cutoff = now - chrono::Duration::days(i64::from(days));
        let what = format!("{} before {}", shared::logzip::log_file(kind), time(cutoff));
        let start = Utc::now();
        repo.append_api_log(&[record(None, start, None, &what)])
            .await?;
        let purged = repo.purge_log_before(kind, cutoff).await?;
        let end = Utc::now();
        let records: Vec<ApiLogRecord> = purged
            .iter()
            .map(|(producer, lines)| {
                tracing::info!(
                    log = kind.name(),
                    producer = producer.as_ref().map_or("-", ProducerId::as_str),
                    lines,
                    cutoff = %time(cutoff),
                    "audit retention purged lines"
                );
                total += lines;
                record(
                    producer.clone(),
                    start,
                    Some(end),
                    &format!("{what}: {lines} lines"),
                )
            })
            .collect();
        if !records.is_empty() {
            repo.append_api_log(&records).await?;
        }
    }
    Ok(total)
}

fn record(
    producer: Option<ProducerId>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    what: &str,
) -> ApiLogRecord {
    ApiLogRecord {
        producer_id: producer,
        document_id: None,
        time: end.unwrap_or(start),
        head: RequestHead {
            document: None,
            start,
            end,
            remote: None,
            method: METHOD,
            uri: what,
            status: None,
        }
        .line(),
        tail: "-".to_owned(),
    }
}
