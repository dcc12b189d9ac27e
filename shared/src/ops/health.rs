//! `GET /healthz` and `GET /readyz` (DESIGN, "Operating it").
//!
//! `/healthz` answers 200 whenever the process serves. `/readyz` runs the service's checks
//! (database, object store, audit writer), each bounded by [`CHECK_TIMEOUT`] and all at once:
//! 200 when every one passes, else 503 naming each failing one. Both are answered by the ops
//! middleware ([`super::http`]) before the access log, authentication and rate limits: a
//! probe every few seconds is neither audited nor throttled, and needs no credential. The
//! answer names checks and says `ok`, `failed` or `timed out`, never an error's text (the
//! probe is public): the error itself goes to the service's log.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// The liveness path.
pub const HEALTHZ: &str = "/healthz";
/// The readiness path.
pub const READYZ: &str = "/readyz";
/// The longest one check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// A service's readiness checks, by name; clone it freely.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.checks.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

/// What one check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Failed,
    TimedOut,
}

/// The `/readyz` answer's body.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, CheckStatus>,
    /// The failing checks' names (empty when ready).
    pub failing: Vec<&'static str>,
}

impl Report {
    pub fn ready(&self) -> bool {
        self.failing.is_empty()
    }
}

impl Readiness {
    /// Adds the check `name`: `Err` (its text is logged, never answered) when not usable.
    pub fn check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name, Arc::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    /// The `database` check: one `SELECT 1` through the service's pool.
    pub fn database(self, repo: Arc<dyn schema::Repository>) -> Self {
        self.check("database", move || {
            let repo = repo.clone();
            async move { repo.ping().await.map_err(|error| error_text(&error)) }
        })
    }

    /// The `audit_writer` check: `alive` says whether the writer still takes records.
    pub fn audit_writer(self, alive: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        let alive = Arc::new(alive);
        self.check("audit_writer", move || {
            let alive = alive.clone();
            async move {
                if alive() {
                    Ok(())
                } else {
                    Err("the audit writer has stopped".to_owned())
                }
            }
        })
    }

    /// Runs every check at once, each within [`CHECK_TIMEOUT`].
    pub async fn run(&self) -> Report {
        let runs = self.checks.iter().map(|(name, check)| async move {
            let status = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => CheckStatus::Ok,
                Ok(Err(error)) => {
                    tracing::warn!(check = name, %error, "readiness check failed");
                    CheckStatus::Failed
                }
                Err(_) => {
                    tracing::warn!(check = name, "readiness check timed out");
                    CheckStatus::TimedOut
                }
            };
            (*name, status)
        });
        let checks: BTreeMap<_, _> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect();
        let failing: Vec<_> = (checks.iter())
            .filter(|(_, status)| **status != CheckStatus::Ok)
            .map(|(name, _)| *name)
            .collect();
        let status = if failing.is_empty() {
            "ready"
        } else {
            "unavailable"
        };
        Report {
            status,
            checks,
            failing,
        }
    }
}

fn error_text(error: &dyn std::error::Error) -> String {
    crate::telemetry::error_chain(error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn failing_and_slow_checks_are_named() {
        let readiness = Readiness::default()
            .check("fine", || async { Ok(()) })
            .check("broken", || async { Err("no".to_owned()) })
            .check("slow", || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            });
        let report = readiness.run().await;
        assert!(!report.ready());
        assert_eq!(report.failing, ["broken", "slow"]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"]["slow"], "timed_out");
        assert_eq!(json["checks"]["fine"], "ok");
        assert_eq!(json["status"], "unavailable");
    }

    #[tokio::test]
    async fn no_failure_is_ready() {
        let report = Readiness::default().audit_writer(|| true).run().await;
        assert!(report.ready());
        assert_eq!(report.status, "ready");
    }
}
