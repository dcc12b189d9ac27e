//! The metric families (DESIGN, "Operating it"), in one [`Metrics`] per instance.
//!
//! The `prometheus` crate (no default features: no protobuf), with an explicit [`Registry`]
//! held by each [`Metrics`] rather than the crate's global one: a test process runs many
//! instances side by side, and each instance's counters must move only with its own requests.
//! `sealpost up` shares one [`Metrics`] between its three services, told apart by the
//! `service` label of the request families. The crate writes the text format itself (we never
//! hand-write it), and checks names and labels as families are made.
//!
//! Labels stay few and bounded: a route is its template (`/documents/{doc_id}`), never a raw
//! path ([`super::http::route_label`]); states and logs are fixed words.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The databases whose pools a scrape reads.
type PoolProbe = Arc<dyn schema::Repository>;

/// Every family, registered in the instance's own registry; clone it freely (one registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

struct Families {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    bytes_in: IntCounterVec,
    bytes_out: IntCounterVec,
    handles_minted: IntCounter,
    challenges_failed: IntCounter,
    lockouts: IntCounter,
    audit_written: IntCounterVec,
    audit_failures: IntCounterVec,
    batch_sizes: HistogramVec,
    deliveries: IntCounterVec,
    pool: IntGaugeVec,
    pools: Mutex<Vec<PoolProbe>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    /// A registry of its own that nobody scrapes (services started without an admin address).
    fn default() -> Self {
        Self::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let family = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid family");
    registry
        .register(Box::new(family.clone()))
        .expect("registered once");
    family
}

fn single(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let family = IntCounter::new(name, help).expect("a valid family");
    registry
        .register(Box::new(family.clone()))
        .expect("registered once");
    family
}

fn histogram(registry: &Registry, opts: HistogramOpts, labels: &[&str]) -> HistogramVec {
    let family = HistogramVec::new(opts, labels).expect("a valid family");
    registry
        .register(Box::new(family.clone()))
        .expect("registered once");
    family
}

impl Metrics {
    /// Every family, zero, in a new registry.
    #[allow(clippy::expect_used)] // constant names and labels: a bad one fails every test
    pub fn new() -> Self {
        let r = Registry::new();
        let pool = IntGaugeVec::new(
            Opts::new(
                "sealpost_db_pool_connections",
                "Database connections open, by state (idle or in use), read at scrape time.",
            ),
            &["state"],
        )
        .expect("a valid family");
        r.register(Box::new(pool.clone())).expect("registered once");
        let families = Families {
            requests: counter(
                &r,
                "sealpost_http_requests_total",
                "HTTP requests answered, by service, route template, method and status.",
                &["service", "route", "method", "status"],
            ),
            latency: histogram(
                &r,
                HistogramOpts::new(
                    "sealpost_http_request_duration_seconds",
                    "Time from a request's arrival to its response head, by service and route template.",
                ),
                &["service", "route"],
            ),
            bytes_in: counter(
                &r,
                "sealpost_http_request_bytes_total",
                "Request body bytes received (as declared by Content-Length), by service.",
                &["service"],
            ),
            bytes_out: counter(
                &r,
                "sealpost_http_response_bytes_total",
                "Response body bytes sent, by service.",
                &["service"],
            ),
            handles_minted: single(
                &r,
                "sealpost_handles_minted_total",
                "Download handles the gateway issued.",
            ),
            challenges_failed: single(
                &r,
                "sealpost_challenges_failed_total",
                "HTTP Basic or Digest guesses that failed (wrong or unknown credentials).",
            ),
            lockouts: single(
                &r,
                "sealpost_lockouts_total",
                "Failed guesses that reached a brute-force limit and locked it.",
            ),
            audit_written: counter(
                &r,
                "sealpost_audit_records_written_total",
                "Audit-log records committed, by log (api, gateway, vault).",
                &["log"],
            ),
            audit_failures: counter(
                &r,
                "sealpost_audit_write_failures_total",
                "Audit-log records whose write failed, by log (api, gateway, vault).",
                &["log"],
            ),
            batch_sizes: histogram(
                &r,
                HistogramOpts::new(
                    "sealpost_group_commit_batch_size",
                    "Records per group-commit transaction, by writer (api, gateway, deliveries).",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                ]),
                &["log"],
            ),
            deliveries: counter(
                &r,
                "sealpost_deliveries_total",
                "Delivery attempts finished, by resulting state.",
                &["state"],
            ),
            pool,
            pools: Mutex::new(Vec::new()),
            registry: r,
        };
        Self {
            inner: Arc::new(families),
        }
    }

    /// One answered request. `route` is a template or a fixed word ([`super::http::route_label`]).
    pub fn request(&self, service: &str, route: &str, method: &str, status: u16, secs: f64) {
        let f = &self.inner;
        let status = status.to_string();
        (f.requests
            .with_label_values(&[service, route, method, status.as_str()]))
        .inc();
        (f.latency.with_label_values(&[service, route])).observe(secs);
    }

    /// Request body bytes received by `service`.
    pub fn bytes_in(&self, service: &str, bytes: u64) {
        self.inner
            .bytes_in
            .with_label_values(&[service])
            .inc_by(bytes);
    }

    /// The counter of response body bytes `service` sends (counted as the body streams).
    pub fn bytes_out(&self, service: &str) -> IntCounter {
        self.inner.bytes_out.with_label_values(&[service])
    }

    /// The gateway issued a handle.
    pub fn handle_minted(&self) {
        self.inner.handles_minted.inc();
    }

    /// A guess failed; `locked` when counting it reached a limit.
    pub fn challenge_failed(&self, locked: bool) {
        self.inner.challenges_failed.inc();
        if locked {
            self.inner.lockouts.inc();
        }
    }

    /// A token naming no member reached a limit (a lockout without a failed challenge).
    pub fn lockout(&self) {
        self.inner.lockouts.inc();
    }

    /// One group-commit (or batched) append of `records` to `log`: its size, and whether it
    /// committed (audit logs only: `audit` false for the delivery writer).
    pub fn batch(&self, log: &str, records: usize, committed: bool, audit: bool) {
        let f = &self.inner;
        (f.batch_sizes.with_label_values(&[log])).observe(records as f64);
        if audit {
            let family = if committed {
                &f.audit_written
            } else {
                &f.audit_failures
            };
            family.with_label_values(&[log]).inc_by(records as u64);
        }
    }

    /// An audit record of `log` that could not be written (outside a batch).
    pub fn audit_failed(&self, log: &str, records: usize) {
        (self.inner.audit_failures.with_label_values(&[log])).inc_by(records as u64);
    }

    /// A delivery attempt ended in `state` (`sent`, `retry`, `failed`).
    pub fn delivery(&self, state: &str) {
        self.inner.deliveries.with_label_values(&[state]).inc();
    }

    /// Reads `repo`'s pool at every scrape into `sealpost_db_pool_connections` (pools
    /// summed; the same repository watched by several services counts once).
    pub fn watch_pool(&self, repo: &Arc<dyn schema::Repository>) {
        let mut pools = (self.inner.pools.lock()).unwrap_or_else(PoisonError::into_inner);
        if !pools.iter().any(|known| Arc::ptr_eq(known, repo)) {
            pools.push(repo.clone());
        }
    }

    /// The scrape: every family in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let f = &self.inner;
        let (mut size, mut idle) = (0i64, 0i64);
        for probe in f
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let use_now = probe.pool_use();
            size += i64::from(use_now.size);
            idle += i64::from(use_now.idle);
        }
        f.pool.with_label_values(&["idle"]).set(idle);
        f.pool.with_label_values(&["in_use"]).set(size - idle);
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&f.registry.gather(), &mut text) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// The scrape's media type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_family_is_exposed_and_counts() {
        let metrics = Metrics::new();
        metrics.request("api", "/documents", "POST", 201, 0.01);
        metrics.handle_minted();
        metrics.challenge_failed(true);
        metrics.batch("api", 3, true, true);
        metrics.batch("gateway", 2, false, true);
        metrics.delivery("delivered");
        metrics.bytes_out("api").inc_by(10);
        let text = metrics.encode();
        for line in [
            "sealpost_http_requests_total{method=\"POST\",route=\"/documents\",service=\"api\",status=\"201\"} 1",
            "sealpost_handles_minted_total 1",
            "sealpost_lockouts_total 1",
            "sealpost_audit_records_written_total{log=\"api\"} 3",
            "sealpost_audit_write_failures_total{log=\"gateway\"} 2",
            "sealpost_deliveries_total{state=\"delivered\"} 1",
            "sealpost_http_response_bytes_total{service=\"api\"} 10",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn instances_do_not_share_counters() {
        let (one, two) = (Metrics::new(), Metrics::new());
        one.handle_minted();
        assert!(two.encode().contains("sealpost_handles_minted_total 0"));
    }
}
