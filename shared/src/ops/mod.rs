//! Operating a service (DESIGN, "Operating it"; issue 18, items 2 and 3).
//!
//! - [`health`]: `GET /healthz` and `GET /readyz`, with each service's readiness checks.
//! - [`metrics`]: the metric families, one [`Metrics`] (one Prometheus registry) per instance.
//! - [`http`]: the middleware every service wraps: answers the probes before the access log
//!   and authentication, and counts every other request by route template.
//! - [`admin`]: the admin address serving `GET /metrics`, never a public port.

pub mod admin;
pub mod health;
pub mod http;
pub mod metrics;

pub use health::Readiness;
pub use http::Ops;
pub use metrics::Metrics;
