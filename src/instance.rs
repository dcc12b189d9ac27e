//! `sealpost up`: the API server, the gateway and the vault in one process.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use anyhow::Context as _;
use api_server::content_store::ContentStore;
use shared::config::{Settings, public_url};
use shared::handle::HandleVerifier;
use shared::keys::SigningKey;
use tokio::task::JoinHandle;
use vault::{Keyring, Vault};

/// File names inside the data directory.
pub const DATABASE_FILE: &str = "sealpost.db";
pub use api_server::startup::INSTANCE_KEY_FILE;
/// The vault's files, and the gateway's Ed25519 key that signs handles (the vault is given
/// only its public key); named by the vault so its own binary finds the same files.
pub use vault::standalone::{GATEWAY_KEY_FILE, KEYRING_FILE, OBJECTS_DIR};

/// A running instance: three servers on their bound addresses.
pub struct Instance {
    pub api_addr: SocketAddr,
    pub gateway_addr: SocketAddr,
    pub vault_addr: SocketAddr,
    /// Set when this start created the default producer.
    pub default_key_path: Option<PathBuf>,
    handles: Vec<ServerHandle>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
    /// The expiry sweep and the audit retention sweep, stopped with the servers.
    sweepers: Vec<JoinHandle<()>>,
    /// The vault access log, closed (every record written) once the servers stopped.
    vault_log: vault::access_log::AccessLog,
}

impl Instance {
    /// Prepares the data directory, opens the database and the vault, sweeps what a crash left
    /// behind, creates the default producer on first run, then binds and starts the servers.
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let data_dir = &settings.data_dir;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        // The documents' viewer data and secrets are sealed under the record keys of the data
        // directory; rows older than that are sealed now (and rows of an interrupted
        // `sealpost records rotate-key` moved to the current key).
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
        // The vault runs in this process unless `vault.internal_url` names one of its own.
        let (local_vault, content) = if settings.vault.internal_url.is_empty() {
            let vault = open_local_vault(settings, repo.clone()).await?;
            (Some(vault.clone()), ContentStore::from(vault))
        } else {
            (None, api_server::startup::remote_vault(settings)?.into())
        };
        let default_key_path = crate::producers::ensure_default(repo.as_ref(), data_dir).await?;

        let api_listener = bind(settings.api.addr)?;
        let gateway_listener = bind(settings.gateway.addr)?;
        let vault_listener = match local_vault {
            Some(_) => Some(bind(settings.vault.addr)?),
            None => None,
        };
        let api_addr = api_listener.local_addr()?;
        let gateway_addr = gateway_listener.local_addr()?;
        let vault_addr = match &vault_listener {
            Some(listener) => listener.local_addr()?,
            None => remote_addr(&settings.vault.internal_url).unwrap_or(settings.vault.addr),
        };

        let gateway_key = SigningKey::load_or_create(&data_dir.join(GATEWAY_KEY_FILE))
            .context("loading the gateway's handle-signing key")?;
        let handle_verifier = HandleVerifier::new([gateway_key.public_key().to_vec()]);
        let gateway = gateway::startup::service(
            settings,
            repo.clone(),
            gateway_key,
            &public_url(&settings.gateway.public_url, gateway_addr),
            public_url(&settings.vault.public_url, vault_addr),
        )?;
        let gateway_audit = gateway::AuditLog::spawn(repo.clone());
        let vault_log = vault::access_log::AccessLog::spawn(
            repo.clone(),
            Duration::from_secs(settings.vault.log_flush_secs),
        );
        let context = Arc::new(api_server::startup::context(
            settings,
            repo,
            content,
            api_addr,
            gateway_addr,
        )?);
        let expiry = api_server::documents::spawn_expiry_sweeper(
            context.clone(),
            Duration::from_secs(settings.api.expiry_sweep_secs.max(1)),
        );
        let retention = api_server::logs::retention::spawn_retention_sweeper(
            context.repo.clone(),
            &settings.audit,
        );
        let sweepers = std::iter::once(expiry).chain(retention).collect();
        let workers = settings.workers;
        // One set of limits per service: each counts its own connections per address.
        let limits = || shared::server::slow_clients::ClientLimits::new(&settings.server);
        let mut servers = vec![
            api_server::build(context, api_listener, workers, &limits())?,
            gateway::build(gateway, gateway_audit, gateway_listener, workers, &limits())?,
        ];
        if let (Some(vault), Some(listener)) = (local_vault, vault_listener) {
            let vault_service = Arc::new(vault::http::VaultService {
                vault,
                handles: handle_verifier,
                credential: None,
                log: vault_log.clone(),
            });
            servers.push(vault::http::build(
                vault_service,
                listener,
                workers,
                &limits(),
            )?);
        }
        let handles = servers.iter().map(actix_web::dev::Server::handle).collect();
        let tasks = servers.into_iter().map(tokio::spawn).collect();
        Ok(Self {
            api_addr,
            gateway_addr,
            vault_addr,
            default_key_path,
            handles,
            tasks,
            sweepers,
            vault_log,
        })
    }

    /// Stops accepting, lets in-flight requests finish, then returns.
    pub async fn stop(self) {
        for sweeper in &self.sweepers {
            sweeper.abort();
        }
        for handle in &self.handles {
            handle.stop(true).await;
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.vault_log.close().await;
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shared::server::shutdown_signal().await?;
        tracing::info!("shutting down");
        self.stop().await;
        Ok(())
    }
}

/// The vault in this process: keyring under the data directory, store as configured, swept of
/// what a crash left (no grace by default: nothing of this process is in flight yet).
async fn open_local_vault(
    settings: &Settings,
    repo: Arc<dyn schema::Repository>,
) -> anyhow::Result<Vault> {
    let data_dir = &settings.data_dir;
    let keyring = Keyring::load_or_create(&data_dir.join(KEYRING_FILE))
        .context("loading the vault keyring")?;
    let vault = vault::standalone::open_vault(settings, repo, keyring)?;
    let swept = vault
        .sweep(settings.vault.orphan_grace(false))
        .await
        .context("sweeping orphaned objects")?;
    tracing::info!(?swept, "start-up sweep done");
    Ok(vault)
}

/// The socket address in `http://host:port/…`, for reporting where the remote vault is.
fn remote_addr(url: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs as _;
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    authority.to_socket_addrs().ok()?.next()
}

fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))
}
