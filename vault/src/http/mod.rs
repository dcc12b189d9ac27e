//! The vault's HTTP face (the only module besides [`crate::internal`] that knows actix-web):
//! `GET`/`HEAD {vault}/h/{handle}` for viewers, and the internal object API for the other
//! services (mounted only when a service credential is configured).
//!
//! - `handle`: the viewer's download ([`ViewError`] is its error type).
//! - `access`: the middleware that gives every request one access-log record and its tracing
//!   line; `redact`: what of a request may be logged (never a handle).
//! - `cors`: [`Cors`], the gateway's top-secret page reading handles cross-origin.

mod access;
mod cors;
mod handle;
mod redact;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use shared::handle::HandleVerifier;
use shared::server::slow_clients::{self, ClientLimits};

pub use cors::Cors;
pub use handle::{ViewError, content_headers};

use crate::Vault;
use crate::access_log::AccessLog;
use crate::internal::ServiceCredential;

/// Everything the vault's handlers share.
pub struct VaultService {
    pub vault: Vault,
    /// Documents as the handle endpoint reads them (with their object row and signature).
    pub documents: Arc<dyn schema::ViewerRepo>,
    /// Public keys of the handle issuers (the gateway); the vault never holds a signing key.
    pub handles: HandleVerifier,
    /// The service credential other services present to the internal object API; `None`
    /// leaves that API unmounted (404), as in `sealpost up`, where the services share the
    /// vault in-process.
    pub credential: Option<ServiceCredential>,
    /// Where every request's access-log record goes.
    pub log: AccessLog,
    /// Whose address a request comes from (`api.trusted_proxies`, the rule of every log).
    pub clients: shared::client_addr::ClientRule,
    /// Probes and metrics (`/healthz`, `/readyz`; the admin address's `/metrics`).
    pub ops: shared::ops::Ops,
    /// The gateway origin whose top-secret page may read handles cross-origin.
    pub cors: Cors,
}

/// An object upload over the internal API: a document body, under the idle timeout only.
fn is_upload(request: &actix_web::dev::ServiceRequest) -> bool {
    request.method() == actix_web::http::Method::POST
        && request.path() == crate::internal::routes::OBJECTS_PATH
}

/// Builds the vault's server on `listener`; HTTPS when `tls` is given.
pub fn build(
    service: Arc<VaultService>,
    listener: TcpListener,
    workers: usize,
    limits: &ClientLimits,
    tls: Option<&shared::tls::ServerTls>,
) -> std::io::Result<actix_web::dev::Server> {
    let https = tls.is_some();
    let log = service.log.clone();
    let cors = service.cors.clone();
    let data = web::Data::from(service);
    let bodies = limits.bodies();
    let server = HttpServer::new(move || {
        let (log, cors) = (log.clone(), cors.clone());
        App::new()
            .app_data(data.clone())
            // Innermost: the access log records its 408. Object uploads over the internal
            // API have the idle timeout only (they may be gigabytes).
            .wrap(from_fn(move |request, next| {
                slow_clients::guard_request(bodies, is_upload, request, next)
            }))
            .wrap(from_fn(move |request, next| {
                cors::around(cors.clone(), request, next)
            }))
            .configure(crate::internal::routes)
            .configure(handle::routes)
            .default_service(web::to(handle::not_found))
            // Outermost: the record covers everything inside, including the default 404.
            .wrap_fn(move |request, service| access::around(log.clone(), request, service))
            // Probes answered here (never audited); every other request counted.
            .wrap(from_fn(data.ops.middleware()))
            .wrap(shared::tls::hsts(https))
    })
    .on_connect(limits.on_connect())
    .client_request_timeout(limits.header_timeout())
    .keep_alive(limits.keep_alive())
    .max_connections(limits.max_connections())
    .workers(shared::server::workers(workers))
    .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.server_config())?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}
