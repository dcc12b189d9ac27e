//! The admin address (`admin.addr`, `--admin-addr`; default `127.0.0.1:9464`): `GET /metrics`
//! in the Prometheus text format, and nothing else. The public services never serve
//! `/metrics`, so a scrape never reaches the internet through them.

use std::net::{SocketAddr, TcpListener};

use actix_web::{App, HttpResponse, HttpServer, web};

use super::metrics::{CONTENT_TYPE, Metrics};
use crate::service::Running;

/// The scrape path.
pub const METRICS_PATH: &str = "/metrics";

/// Binds `addr` and serves `metrics` there. A taken address is logged and skipped (`None`):
/// the services must not go down because a second process on the host kept the default port;
/// give each process its own `--admin-addr` to scrape them all.
pub fn start(addr: SocketAddr, metrics: Metrics) -> Option<Running> {
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%addr, %error, "metrics not served: cannot bind admin.addr (--admin-addr)");
            return None;
        }
    };
    match serve(listener, metrics) {
        Ok(running) => {
            tracing::info!(addr = %running.addr, "metrics at http://{}{METRICS_PATH}", running.addr);
            Some(running)
        }
        Err(error) => {
            tracing::warn!(%addr, error = %format!("{error:#}"), "metrics not served");
            None
        }
    }
}

/// Serves `metrics` on `listener` (bound already, so port 0 works).
pub fn serve(listener: TcpListener, metrics: Metrics) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let metrics = web::Data::new(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route(METRICS_PATH, web::get().to(scrape))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(Running::serve(addr, server))
}

/// `GET /metrics`: every family, pool gauges read now.
async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(("cache-control", "no-store"))
        .body(metrics.encode())
}

/// `service` with the admin address serving `metrics` ([`start`]), stopped together.
pub fn attach(service: Running, addr: SocketAddr, metrics: Metrics) -> Running {
    match start(addr, metrics) {
        Some(admin) => service.join(admin),
        None => service,
    }
}
