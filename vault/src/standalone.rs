//! The vault as its own process: what the `vault` binary runs ([`start`], and what the tests
//! start for the split wiring). It serves the handle endpoint and the internal object API, the
//! latter always behind the service credential; [`serve`] is the part `sealpost up` shares.
//!
//! It differs from the vault inside `sealpost up` in what it cannot assume:
//! - **Others upload through it**, so its orphan sweep keeps a grace period
//!   ([`shared::config::VaultSettings::orphan_grace`], one day unless configured): a vault
//!   (re)starting, or one replica among several, must not delete an upload still under way
//!   elsewhere or an object whose caller is about to commit its record. It sweeps again every
//!   `vault.sweep_interval_secs`, because callers that crash between the vault's answer and
//!   their commit leave orphans while it keeps running.
//! - **It never holds the gateway's signing key**: it trusts the public keys in
//!   `vault.handle_public_keys`, or, for a single-host set-up, the public half of
//!   `DIR/gateway-key.pem` when that file is present (read, never created).

use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use object_store::aws::AmazonS3Builder;
use shared::config::Settings;
use shared::handle::HandleVerifier;
use shared::keys::SigningKey;
use shared::ops::{Metrics, Ops, Readiness};
use shared::service::Running;
use tokio::task::JoinHandle;

use crate::access_log::AccessLog;
use crate::http::VaultService;
use crate::internal::ServiceCredential;
use crate::{Keyring, Vault};

/// File names inside the data directory (shared with `sealpost up`, so one data directory
/// works for both).
pub const OBJECTS_DIR: &str = "objects";
pub const KEYRING_FILE: &str = "vault-keyring.json";
/// The gateway's handle-signing key; the vault only ever reads its public half.
pub use shared::handle::GATEWAY_KEY_FILE;

/// Starts the vault as its own process: opens the database, keyring and object store, sweeps
/// orphans older than the grace (and again every `vault.sweep_interval_secs`), then binds
/// `vault.addr` and serves, the internal API behind the service credential.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    start_metered(settings, &Metrics::default()).await
}

/// [`start`], counting into `metrics` (the `vault` binary serves them on its admin address).
pub async fn start_metered(settings: &Settings, metrics: &Metrics) -> anyhow::Result<Running> {
    create_data_dir(&settings.data_dir)?;
    let handles = handle_verifier(settings)?;
    let credential = ServiceCredential::from_settings(settings, true)
        .context("loading the vault service token")?;
    let repo = schema::connect(&settings.database_url())
        .await
        .context("opening the database")?;
    let keyring = Keyring::load_or_create(&settings.data_dir.join(KEYRING_FILE))
        .context("loading the vault keyring")?;
    let vault = open_vault(settings, repo.clone(), keyring)?;
    let grace = settings.vault.orphan_grace(true);
    let swept = vault
        .sweep(grace)
        .await
        .context("sweeping orphaned objects")?;
    tracing::info!(?swept, grace_secs = grace.as_secs(), "start-up sweep done");
    let interval = Duration::from_secs(settings.vault.sweep_interval_secs);
    let sweeper = spawn_sweeper(vault.clone(), grace, interval);
    let listener = shared::service::bind(settings.vault.addr)?;
    let served = serve(
        settings,
        repo,
        vault,
        handles,
        Some(credential),
        listener,
        metrics,
        settings.gateway.addr,
    )?;
    Ok(served.with_sweepers(sweeper))
}

/// Serves `vault` on `listener` (bound already), with its access log, closed (every record
/// written) once the server stopped. `credential` mounts the internal object API; `sealpost up`
/// passes `None` (its services share the vault in-process). `gateway_addr` is where the gateway
/// listens: unless `gateway.public_url` is set, its origin may read handles cross-origin (the
/// top-secret page, [`crate::http::Cors`]).
#[expect(
    clippy::too_many_arguments,
    reason = "each part is built apart by its two callers"
)]
pub fn serve(
    settings: &Settings,
    repo: Arc<dyn schema::Repository>,
    vault: Vault,
    handles: HandleVerifier,
    credential: Option<ServiceCredential>,
    listener: TcpListener,
    metrics: &Metrics,
    gateway_addr: std::net::SocketAddr,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let tls = shared::tls::for_service(&settings.tls, "vault", addr)?;
    let flush = Duration::from_secs(settings.vault.log_flush_secs);
    let log = AccessLog::spawn_metered(repo.clone(), flush, metrics.clone());
    metrics.watch_pool(&repo);
    let ops = Ops::new("vault", metrics.clone(), readiness(&repo, &vault, &log));
    let service = Arc::new(VaultService {
        vault,
        documents: repo,
        handles,
        credential,
        log: log.clone(),
        clients: shared::client_addr::ClientRule::new(&settings.api.trusted_proxies)?,
        ops,
        cors: crate::http::Cors::from_settings(settings, gateway_addr),
    });
    let limits = shared::server::slow_clients::ClientLimits::new(&settings.server);
    let server = crate::http::build(service, listener, settings.workers, &limits, tls.as_ref())?;
    Ok(Running::serve(addr, server).with_drain(move || async move { log.close().await }))
}

/// `/readyz`: the database, the object store and the access-log writer.
fn readiness(repo: &Arc<dyn schema::Repository>, vault: &Vault, log: &AccessLog) -> Readiness {
    let (vault, log) = (vault.clone(), log.clone());
    let store = move || {
        let vault = vault.clone();
        async move { vault.store_reachable().await.map_err(|e| e.to_string()) }
    };
    (Readiness::default().database(repo.clone()))
        .check("object_store", store)
        .audit_writer(move || log.is_alive())
}

/// Creates the data directory (mode 0700) if needed.
fn create_data_dir(path: &std::path::Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating the data directory {}", path.display()))
}

/// The vault over the configured store (`vault.store_url`): `{data_dir}/objects` when empty,
/// else `s3://bucket[/prefix]` on any S3-compatible store, its endpoint and credentials taken
/// from the standard `AWS_*` variables (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP=true` for a plain-http
/// S3 server, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
pub fn open_vault(
    settings: &Settings,
    repo: Arc<dyn schema::Repository>,
    keyring: Keyring,
) -> anyhow::Result<Vault> {
    let url = settings.vault.store_url.trim();
    if url.is_empty() {
        return Vault::local(&settings.data_dir.join(OBJECTS_DIR), repo, keyring)
            .context("opening the object store");
    }
    let rest = url
        .strip_prefix("s3://")
        .with_context(|| format!("vault.store_url {url:?}: expected s3://bucket[/prefix]"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .with_context(|| format!("opening the S3-compatible store {url}"))?;
    Ok(Vault::s3(s3, prefix.trim_matches('/'), repo, keyring))
}

/// Sweeps every `interval` (none when 0, or when the grace is 0: a periodic sweep without
/// grace would delete uploads in flight).
fn spawn_sweeper(vault: Vault, grace: Duration, interval: Duration) -> Option<JoinHandle<()>> {
    if interval.is_zero() {
        return None;
    }
    if grace.is_zero() {
        tracing::warn!("vault.orphan_grace_secs is 0: sweeping at start-up only");
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the start-up sweep just ran
        loop {
            ticker.tick().await;
            if let Err(error) = vault.sweep(grace).await {
                tracing::warn!(error = %error, "orphan sweep failed; retrying next interval");
            }
        }
    }))
}

/// The handle issuers' public keys: `vault.handle_public_keys`, else the public half of
/// `DIR/gateway-key.pem`. A vault that could verify no handle refuses to start.
pub fn handle_verifier(settings: &Settings) -> anyhow::Result<HandleVerifier> {
    let configured: Vec<&str> = settings
        .vault
        .handle_public_keys
        .iter()
        .map(|key| key.trim())
        .filter(|key| !key.is_empty())
        .collect();
    if !configured.is_empty() {
        let keys = configured
            .into_iter()
            .map(|text| {
                URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
                    .filter(|key| key.len() == 32)
                    .with_context(|| {
                        format!("vault.handle_public_keys: {text:?} is not a base64url Ed25519 public key")
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(HandleVerifier::new(keys));
    }
    let path = settings.data_dir.join(GATEWAY_KEY_FILE);
    let pem = shared::private_file::read(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .with_context(|| {
            format!(
                "no handle issuer key: set vault.handle_public_keys to the gateway's public key, \
                 or provide {}",
                path.display()
            )
        })?;
    let text = String::from_utf8(pem).context("the gateway key is not a PEM file")?;
    let key = SigningKey::from_pem(&text).context("reading the gateway key")?;
    Ok(HandleVerifier::new([key.public_key().to_vec()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &std::path::Path, keys: &str) -> Settings {
        let overrides = [("data_dir", dir.display().to_string())];
        let mut settings =
            Settings::load(Some(std::path::Path::new("/nonexistent.toml")), &overrides).unwrap();
        settings.vault.handle_public_keys = keys.split(',').map(str::to_owned).collect();
        settings
    }

    #[test]
    fn handle_keys_come_from_config_or_the_gateway_key_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            handle_verifier(&settings(dir.path(), "")).is_err(),
            "none at all"
        );
        let key = SigningKey::load_or_create(&dir.path().join(GATEWAY_KEY_FILE)).unwrap();
        assert!(handle_verifier(&settings(dir.path(), "")).is_ok());
        let public = URL_SAFE_NO_PAD.encode(key.public_key());
        assert!(handle_verifier(&settings(dir.path(), &public)).is_ok());
        assert!(handle_verifier(&settings(dir.path(), "AAAA")).is_err());
    }
}
