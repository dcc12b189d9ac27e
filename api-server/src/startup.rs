//! Starting the API server from settings: what `sealpost up` and the `api-server` binary
//! share, so the two wirings differ only in where the vault runs.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use schema::Repository;
use shared::config::{ApiSettings, Settings, public_url};
use shared::keys::SigningKey;
use shared::ops::{Metrics, Ops, Readiness};
use shared::sealed::{SEAL_KEYS_FILE, SealKeys};
use shared::server::slow_clients::ClientLimits;
use shared::service::Running;
use shared::token::TokenIssuer;
use vault::internal::{RemoteVault, ServiceCredential};

use crate::access_log::ApiAudit;
use crate::content_store::ContentStore;
use crate::context::{ApiContext, Limits, Links};
use crate::signer::Signer;

/// The instance's signing key (login tokens), inside the data directory.
pub const INSTANCE_KEY_FILE: &str = "instance-key.pem";

/// Starts the API server on `listener` (bound already, so port 0 works): its context (with the
/// delivery worker), the expiry and audit-retention sweeps, and the access log, drained when
/// the server stops. `gateway_addr` is where links point when no public URL is configured.
pub fn start(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    vault: ContentStore,
    listener: TcpListener,
    gateway_addr: SocketAddr,
    metrics: &Metrics,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let tls = shared::tls::for_service(&settings.tls, "api", addr)?;
    let audit = ApiAudit::spawn_metered(repo.clone(), metrics.clone());
    let mut context = context(settings, repo, vault, addr, gateway_addr, metrics)?;
    context.ops.readiness = readiness(&context, &audit);
    let context = Arc::new(context);
    let expiry = crate::documents::spawn_expiry_sweeper(
        context.clone(),
        Duration::from_secs(settings.api.expiry_sweep_secs.max(1)),
    );
    let retention =
        crate::logs::retention::spawn_retention_sweeper(context.repo.clone(), &settings.audit);
    let limits = ClientLimits::new(&settings.server);
    let server = crate::build(
        context,
        audit.clone(),
        listener,
        settings.workers,
        &limits,
        tls.as_ref(),
    )?;
    Ok(Running::serve(addr, server)
        .with_sweepers(std::iter::once(expiry).chain(retention))
        .with_drain(move || async move { audit.flush().await }))
}

/// The database, opened with the data directory's record keys (`record-keys.json`, shared with
/// the gateway), its documents' viewer data and secrets sealed under the current record key:
/// older plaintext rows, and those of an interrupted `sealpost records rotate-key`, now.
pub async fn open_repository(settings: &Settings) -> anyhow::Result<Arc<dyn Repository>> {
    let repo = shared::record_keys::connect(settings).await?;
    let resealed = repo
        .reseal_records()
        .await
        .context("sealing document records under the current record key")?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            "document records sealed under the current record key"
        );
    }
    Ok(repo)
}

/// The context handlers share. `api_addr` and `gateway_addr` are the bound (or, for a gateway
/// in another process, configured) addresses, used when no public URL is configured.
pub fn context(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    vault: ContentStore,
    api_addr: SocketAddr,
    gateway_addr: SocketAddr,
    metrics: &Metrics,
) -> anyhow::Result<ApiContext> {
    let instance_key = Arc::new(
        SigningKey::load_or_create(&settings.data_dir.join(INSTANCE_KEY_FILE))
            .context("loading the instance key")?,
    );
    let seal_keys = SealKeys::load_or_create(&settings.data_dir.join(SEAL_KEYS_FILE))
        .context("loading the seal keys")?;
    let https = settings.tls.enabled();
    let links = Links {
        api_root: public_url(&settings.api.public_url, api_addr, https),
        gateway_root: public_url(&settings.gateway.public_url, gateway_addr, https),
    };
    let retired = crate::signing_keys::retired(&settings.data_dir, &instance_key)
        .context("loading the retired instance keys")?;
    let first_key = crate::signing_keys::first(&instance_key, &retired);
    let delivery = start_delivery(settings, first_key, repo.clone(), links.clone(), metrics)?;
    metrics.watch_pool(&repo);
    let signer = Signer::with_retired(instance_key.clone(), &retired);
    let token_ttl = Duration::from_secs(settings.api.token_ttl_secs);
    Ok(ApiContext {
        repo,
        vault,
        tokens: Arc::new(TokenIssuer::new(&instance_key, token_ttl)),
        auth: crate::auth::AuthState::new(&settings.api).context("the api settings")?,
        seal_keys,
        logs: crate::logs::LogExports::new(signer.clone(), settings.data_dir.clone()),
        signer,
        links,
        limits: limits(&settings.api),
        security: settings.api.security,
        delivery,
        ops: Ops::new("api", metrics.clone(), Readiness::default()),
    })
}

/// `/readyz`: the database, the audit writer and, with the vault in this process, its store
/// (a vault of its own answers its own `/readyz`).
fn readiness(context: &ApiContext, audit: &ApiAudit) -> Readiness {
    let audit = audit.clone();
    let readiness = (Readiness::default().database(context.repo.clone()))
        .audit_writer(move || audit.is_alive());
    match &context.vault {
        ContentStore::InProcess(vault) => {
            let vault = vault.clone();
            readiness.check("object_store", move || {
                let vault = vault.clone();
                async move { vault.store_reachable().await.map_err(|e| e.to_string()) }
            })
        }
        ContentStore::Remote(_) => readiness,
    }
}

/// The delivery worker starts with the context, so `sealpost up` and the `api-server` binary
/// both run one; it stops when the context is dropped.
fn start_delivery(
    settings: &Settings,
    instance_key: &SigningKey,
    repo: Arc<dyn Repository>,
    links: Links,
    metrics: &Metrics,
) -> anyhow::Result<crate::delivery::Deliveries> {
    crate::delivery::start(
        &settings.delivery,
        &settings.egress,
        instance_key,
        &settings.data_dir.join(SEAL_KEYS_FILE),
        repo,
        links,
        metrics,
    )
    .context("starting the delivery worker")
}

fn limits(api: &ApiSettings) -> Limits {
    Limits {
        max_document_bytes: api.max_document_bytes,
        max_json_part_bytes: api.max_json_part_bytes,
        max_expiration_days: api.max_expiration_days,
    }
}

/// The client of a vault running as its own process (`vault.internal_url`). That vault owns
/// the keyring, the store and their sweep; this process never opens them. The service token
/// never goes in clear to another host (`http://` only to loopback, unless
/// `tls.allow_plain_http`); over `https://` the vault's certificate is checked against
/// `vault.internal_ca_file` when set.
pub fn remote_vault(settings: &Settings) -> anyhow::Result<RemoteVault> {
    let url = &settings.vault.internal_url;
    shared::tls::check_internal_url(url, settings.tls.allow_plain_http)?;
    let credential = ServiceCredential::from_settings(settings, false)
        .context("loading the vault service token")?;
    let ca_file = &settings.vault.internal_ca_file;
    let ca = if ca_file.as_os_str().is_empty() {
        None
    } else {
        let pem = std::fs::read(ca_file)
            .with_context(|| format!("vault.internal_ca_file: reading {}", ca_file.display()))?;
        Some(pem)
    };
    // The vault is configured like this process (one `server` section for every service).
    let keep_alive = Duration::from_secs(settings.server.keep_alive_secs);
    RemoteVault::trusting(url, credential, ca.as_deref(), keep_alive).context("vault.internal_url")
}

/// Creates the data directory (mode 0700) if needed.
pub fn data_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating the data directory {}", path.display()))
}

/// The routes whose body may be a document (`POST /documents`, `POST /documents/{docId}`,
/// `PUT /documents/{docId}/document`): under the body idle timeout only, never a total one, so
/// a slow but honest upload of many gigabytes completes (`server.*` settings).
pub fn is_upload(request: &actix_web::dev::ServiceRequest) -> bool {
    use actix_web::http::Method;
    let Some(rest) = request.path().strip_prefix("/documents") else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match (request.method(), segments.as_slice()) {
        (&Method::POST, []) => rest.is_empty(),
        (&Method::POST, [_id]) => true,
        (&Method::PUT, [_id, "document"]) => true,
        _ => false,
    }
}
