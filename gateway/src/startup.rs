//! Starting the gateway from settings: what `sealpost up` and the `gateway` binary share.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use schema::Repository;
use shared::config::{Settings, public_url};
use shared::keys::SigningKey;
use shared::ops::{Metrics, Ops, Readiness};
use shared::sealed::{SEAL_KEYS_FILE, SealError, SealKeys};
use shared::server::slow_clients::ClientLimits;
use shared::service::Running;

use crate::service::Stores;
use crate::{AuditLog, GatewayService};

/// Why the gateway could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("loading the sealed-link keys")]
    SealKeys(#[source] SealError),
    /// The egress settings are invalid; the message names the setting.
    #[error("{0}")]
    Egress(String),
    /// An `api.trusted_proxies` entry is not a CIDR; the message names it.
    #[error(transparent)]
    TrustedProxies(#[from] shared::client_addr::InvalidProxy),
    /// The listener could not be served (its address unreadable, the workers not started).
    #[error("starting the gateway's server")]
    Serve(#[source] std::io::Error),
    /// TLS could not be set up, or plain HTTP is refused on this address (the message says
    /// what to set).
    #[error(transparent)]
    Tls(#[from] shared::tls::TlsError),
}

/// Starts the gateway on `listener` (bound already, so port 0 works), its access log drained
/// when the server stops. `vault_addr` is where handle links point when `vault.public_url` is
/// not set; `handle_key` signs the handles.
pub fn start(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    handle_key: SigningKey,
    listener: TcpListener,
    vault_addr: SocketAddr,
    metrics: &Metrics,
) -> Result<Running, StartupError> {
    let addr = listener.local_addr().map_err(StartupError::Serve)?;
    let tls = shared::tls::for_service(&settings.tls, "gateway", addr)?;
    let https = tls.is_some();
    let gateway_root = public_url(&settings.gateway.public_url, addr, https);
    let vault_root = public_url(&settings.vault.public_url, vault_addr, https);
    let audit = AuditLog::spawn_metered(repo.clone(), metrics.clone());
    metrics.watch_pool(&repo);
    let ops = Ops::new("gateway", metrics.clone(), readiness(&repo, &audit));
    let stores = Stores::of(repo);
    let gateway = service(settings, stores, handle_key, &gateway_root, vault_root, ops)?;
    let limits = ClientLimits::new(&settings.server);
    let server = crate::build(
        gateway,
        audit.clone(),
        listener,
        settings.workers,
        &limits,
        tls.as_ref(),
    )
    .map_err(StartupError::Serve)?;
    Ok(Running::serve(addr, server).with_drain(move || async move { audit.flush().await }))
}

/// The gateway's state: `handle_key` signs handles (the vault trusts its public half), the seal
/// keys in the data directory open sealed links, `gateway_root` and `vault_root` are the public
/// URLs of the gateway (for the OAuth redirect URI) and of the vault (for handle links).
pub fn service(
    settings: &Settings,
    stores: Stores,
    handle_key: SigningKey,
    gateway_root: &str,
    vault_root: String,
    ops: Ops,
) -> Result<Arc<GatewayService>, StartupError> {
    let seals = SealKeys::load_or_create(&settings.data_dir.join(SEAL_KEYS_FILE))
        .map_err(StartupError::SealKeys)?;
    // OAuth requests go where a producer's challenge says: under the egress policy.
    let egress = shared::egress::EgressPolicy::from_settings(&settings.egress)
        .map_err(StartupError::Egress)?;
    let mut service = GatewayService::new(
        &settings.gateway,
        stores,
        handle_key,
        seals,
        gateway_root,
        vault_root,
        Arc::new(egress),
    );
    // The same rule as the API's (DESIGN: the gateway and the logs use it too).
    service.clients = shared::client_addr::ClientRule::new(&settings.api.trusted_proxies)?;
    service.ops = ops;
    Ok(Arc::new(service))
}

/// `/readyz`: the database and the audit writer (the gateway keeps no object).
fn readiness(repo: &Arc<dyn Repository>, audit: &AuditLog) -> Readiness {
    let audit = audit.clone();
    (Readiness::default().database(repo.clone())).audit_writer(move || audit.is_alive())
}
