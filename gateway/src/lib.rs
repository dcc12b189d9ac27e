//! The viewer-facing gateway: document requests, audiences, HTTP Basic and Digest challenges,
//! landing pages, sealed links, handle issuing.
//!
//! # Layout
//! - [`routes`]: the URL space; [`request`]: the document request from placeholder to handle.
//! - [`decision`]: what a document request amounts to (handle, sign-in or refusal), apart from
//!   HTTP: the handler only maps it to a response.
//! - [`audience`]: which record a viewer token selects (an index per document version).
//! - [`challenge`]: HTTP Basic and Digest (RFC 7617, RFC 7616); [`oauth`]: the OAuth challenge.
//! - [`limits`]: brute-force limits, kept in the database.
//! - [`pages`]: the HTML pages and their headers; [`error`]: refusals as pages.
//! - [`access_log`]: one record per request, committed before the response leaves (fail closed).
//! - [`service`]: the state handlers share.
//! - [`startup`]: the gateway from settings ([`startup::start`], a [`shared::service::Running`]),
//!   shared by `sealpost up` and the `gateway` binary.

pub mod access_log;
pub mod audience;
pub mod challenge;
pub mod decision;
pub mod error;
pub mod limits;
pub mod oauth;
pub mod pages;
pub mod request;
pub mod routes;
pub mod service;
pub mod startup;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use shared::server::slow_clients::{self, ClientLimits};

pub use access_log::AuditLog;
pub use service::GatewayService;

/// Turns a bound listener into the running gateway (HTTPS when `tls` is given);
/// [`startup::start`] calls it for `sealpost up`, the `gateway` binary and tests.
pub fn build(
    service: Arc<GatewayService>,
    audit: AuditLog,
    listener: TcpListener,
    workers: usize,
    limits: &ClientLimits,
    tls: Option<&shared::tls::ServerTls>,
) -> std::io::Result<actix_web::dev::Server> {
    let https = tls.is_some();
    let service = web::Data::from(service);
    let bodies = limits.bodies();
    let server = HttpServer::new(move || {
        let audit = audit.clone();
        App::new()
            .app_data(service.clone())
            // Innermost: the access log records its 408. No uploads here: every body is small.
            .wrap(from_fn(move |request, next| {
                slow_clients::guard_request(bodies, |_| false, request, next)
            }))
            .wrap_fn(move |request, next| access_log::around(audit.clone(), request, next))
            // Probes answered here (never audited); every other request counted.
            .wrap(from_fn(service.ops.middleware()))
            .wrap(shared::server::request_trace())
            .wrap(shared::tls::hsts(https))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(shared::server::workers(workers))
    .on_connect(limits.on_connect())
    .client_request_timeout(limits.header_timeout())
    .keep_alive(limits.keep_alive())
    .max_connections(limits.max_connections())
    .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.server_config())?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}
