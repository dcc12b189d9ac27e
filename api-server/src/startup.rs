//! Building the API server's context from settings: what `sealpost up` and the `api-server`
//! binary share, so the two wirings differ only in where the vault runs.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use schema::Repository;
use shared::config::{Settings, public_url};
use shared::keys::SigningKey;
use shared::sealed::{SEAL_KEYS_FILE, SealKeys};
use shared::token::TokenIssuer;
use vault::internal::{RemoteVault, ServiceCredential};

use crate::content_store::ContentStore;
use crate::context::{ApiContext, Limits, Links};

/// The instance's signing key (login tokens), inside the data directory.
pub const INSTANCE_KEY_FILE: &str = "instance-key.pem";

/// The context handlers share. `api_addr` and `gateway_addr` are the bound (or, for a gateway
/// in another process, configured) addresses, used when no public URL is configured.
pub fn context(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    vault: ContentStore,
    api_addr: SocketAddr,
    gateway_addr: SocketAddr,
) -> anyhow::Result<ApiContext> {
    let instance_key = Arc::new(
        SigningKey::load_or_create(&settings.data_dir.join(INSTANCE_KEY_FILE))
            .context("loading the instance key")?,
    );
    let seal_keys = SealKeys::load_or_create(&settings.data_dir.join(SEAL_KEYS_FILE))
        .context("loading the seal keys")?;
    let links = Links {
        api_root: public_url(&settings.api.public_url, api_addr),
        gateway_root: public_url(&settings.gateway.public_url, gateway_addr),
    };
    // The delivery worker starts here, so `sealpost up` and the `api-server` binary both run
    // one; it stops when the context is dropped.
    let delivery = crate::delivery::start(
        &settings.delivery,
        &settings.egress,
        &instance_key,
        &settings.data_dir.join(SEAL_KEYS_FILE),
        repo.clone(),
        links.clone(),
    )
    .context("starting the delivery worker")?;
    Ok(ApiContext {
        repo,
        vault,
        tokens: Arc::new(TokenIssuer::new(
            &instance_key,
            Duration::from_secs(settings.api.token_ttl_secs),
        )),
        seal_keys,
        logs: crate::logs::LogExports::new(instance_key, settings.data_dir.clone()),
        links,
        limits: Limits {
            max_document_bytes: settings.api.max_document_bytes,
            max_json_part_bytes: settings.api.max_json_part_bytes,
            max_expiration_days: settings.api.max_expiration_days,
        },
        security: settings.api.security,
        delivery,
    })
}

/// The client of a vault running as its own process (`vault.internal_url`). That vault owns
/// the keyring, the store and their sweep; this process never opens them.
pub fn remote_vault(settings: &Settings) -> anyhow::Result<RemoteVault> {
    let credential = ServiceCredential::from_settings(settings, false)
        .context("loading the vault service token")?;
    RemoteVault::new(&settings.vault.internal_url, credential).context("vault.internal_url")
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
