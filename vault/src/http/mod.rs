//! The vault's HTTP face (the only module besides [`crate::internal`] that knows actix-web):
//! `GET`/`HEAD {vault}/h/{handle}` for viewers, and the internal object API for the other
//! services (mounted only when a service credential is configured).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use shared::handle::HandleVerifier;

use crate::Vault;
use crate::internal::ServiceCredential;

/// Everything the vault's handlers share.
pub struct VaultService {
    pub vault: Vault,
    /// Public keys of the handle issuers (the gateway); the vault never holds a signing key.
    pub handles: HandleVerifier,
    /// The service credential other services present to the internal object API; `None`
    /// leaves that API unmounted (404), as in `sealpost up`, where the services share the
    /// vault in-process.
    pub credential: Option<ServiceCredential>,
}

/// Builds the vault's server on `listener`.
pub fn build(
    service: Arc<VaultService>,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(service);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(shared::server::request_trace())
            .configure(crate::internal::routes)
            .default_service(web::to(|| async {
                shared::Problem::new(actix_web::http::StatusCode::NOT_FOUND, "no such handle")
                    .into_response()
            }))
    })
    .on_connect(shared::server::disable_nagle)
    .workers(shared::server::workers(workers))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
