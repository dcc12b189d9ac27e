//! The producer REST API.
//!
//! # Layout
//! - [`build`]: the one function that turns a [`ApiContext`] and a bound listener into a running
//!   server; [`startup::start`] calls it for `sealpost up`, the `api-server` binary and tests.
//! - [`access_log`]: the API access log, one record per request, committed before the response
//!   leaves and, for requests that change state, an intent committed before the handler runs.
//! - [`content_store`]: the vault in this process or behind its internal API, one interface.
//! - [`context`]: what handlers share (repository, vault, token issuer, public URLs, limits).
//! - [`error`]: the service's one error type and its problem+json rendering.
//! - [`auth`]: who is calling and what they may do: credentials (login tokens, API keys),
//!   the allowlist, rate limits and scopes, one [`auth::Authorized`] extractor per scope.
//! - [`form`]: streaming `multipart/form-data` reading with per-part limits.
//! - [`idempotency`]: `Idempotency-Key` on the creating POSTs: a retry answers the kept answer.
//! - [`documents`]: the domain operations behind the document routes.
//! - [`delivery`]: fulfillment: queued deliveries and the worker that sends them.
//! - [`logs`]: audit-log exports (`GET /logs`), streamed as they are written, signed inside the zip.
//! - [`openapi`]: `GET /openapi.json`, the OpenAPI 3.1 document generated from the handlers.
//! - [`signed_responses`]: the middleware that signs every answer with the instance key.
//! - [`signer`]: content signing by the instance key ([`shared::content_signature`]): signed
//!   responses, stored content, the published keys.
//! - [`signing_keys`]: rotating the instance key; the retired keys stay published.
//! - [`payload`]: payload encryption of JSON bodies and answers, per API key.
//! - [`representation`]: the spec's JSON for a document record.
//! - [`routes`]: thin handlers; the module tree mirrors the URL tree.
//! - [`startup`]: the service from settings ([`startup::start`], a [`shared::service::Running`]),
//!   shared by `sealpost up` and the `api-server` binary (`main.rs`, which always uses a vault
//!   running as its own process).

pub mod access_log;
pub mod auth;
pub mod content_store;
pub mod context;
pub mod delivery;
pub mod documents;
pub mod error;
pub mod form;
pub mod idempotency;
pub mod logs;
pub mod openapi;
pub mod payload;
pub mod representation;
pub mod routes;
pub mod signed_responses;
pub mod signer;
pub mod signing_keys;
pub mod startup;
pub mod views;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web};
use shared::server::slow_clients::{self, ClientLimits};

pub use context::ApiContext;

/// Builds the API server on `listener` (bound already, so port 0 works), recording every
/// request through `audit`; HTTPS when `tls` is given. Signals are not handled here: the
/// caller owns shutdown through the returned server's handle (and drains `audit` after it).
pub fn build(
    context: Arc<ApiContext>,
    audit: access_log::ApiAudit,
    listener: TcpListener,
    workers: usize,
    limits: &ClientLimits,
    tls: Option<&shared::tls::ServerTls>,
) -> std::io::Result<actix_web::dev::Server> {
    let https = tls.is_some();
    let context = web::Data::from(context);
    let bodies = limits.bodies();
    let server = HttpServer::new(move || {
        let audit = audit.clone();
        let signer = context.signer.clone();
        App::new()
            .app_data(context.clone())
            // Innermost: the access log records its 408.
            .wrap(from_fn(move |request, next| {
                slow_clients::guard_request(bodies, startup::is_upload, request, next)
            }))
            // The RateLimit headers of a request its credential's bucket admitted.
            .wrap(from_fn(auth::rate::advertise))
            // Seals the JSON answers of an API key requiring payload encryption; inside the
            // signing middleware, whose signature covers the sealed bytes sent.
            .wrap(from_fn(payload::seal_answers))
            .wrap(from_fn(
                move |request: ServiceRequest, next: Next<BoxBody>| {
                    access_log::around(audit.clone(), request, next)
                },
            ))
            // Probes answered here (signed, never audited); every other request counted.
            .wrap(from_fn(context.ops.middleware()))
            // Outermost of the middleware that change a body (only the request trace, which
            // counts bytes, is outside): the signature covers the bytes sent (DESIGN, "Signed
            // responses").
            .wrap(from_fn(
                move |request: ServiceRequest, next: Next<BoxBody>| {
                    signed_responses::sign(signer.clone(), request, next)
                },
            ))
            .wrap(shared::server::request_trace())
            // HSTS on every HTTPS answer (a header: the signature covers the body only).
            .wrap(shared::tls::hsts(https))
            .app_data(routes::query_config())
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
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
