//! `sealpost up`: the API server, the gateway and the vault in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use api_server::content_store::ContentStore;
use shared::config::Settings;
use shared::handle::HandleVerifier;
use shared::keys::SigningKey;
use shared::ops::Metrics;
use shared::service::{Running, bind};
use vault::internal::RemoteVault;
use vault::{Keyring, Vault};

/// File names inside the data directory.
pub const DATABASE_FILE: &str = "sealpost.db";
pub use api_server::startup::INSTANCE_KEY_FILE;
/// The vault's files, and the gateway's Ed25519 key that signs handles (the vault is given
/// only its public key); named by the vault so its own binary finds the same files.
pub use vault::standalone::{GATEWAY_KEY_FILE, KEYRING_FILE, OBJECTS_DIR};

/// A running instance: three services on their bound addresses, stopped together.
pub struct Instance {
    pub api_addr: SocketAddr,
    pub gateway_addr: SocketAddr,
    pub vault_addr: SocketAddr,
    /// Where `GET /metrics` is served (`admin.addr`); `None` when it could not be bound.
    pub admin_addr: Option<SocketAddr>,
    /// The instance's metrics (one registry for the three services).
    pub metrics: Metrics,
    /// Set when this start created the default producer.
    pub default_key_path: Option<PathBuf>,
    /// The API server, the gateway and (unless it runs apart) the vault, with their sweepers
    /// and audit writers.
    services: Running,
}

impl Instance {
    /// Prepares the data directory, opens the database and the vault, sweeps what a crash left
    /// behind, creates the default producer on first run, then binds and starts the services.
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        api_server::startup::data_dir(&settings.data_dir)?;
        let repo = api_server::startup::open_repository(settings).await?;
        let wiring = VaultWiring::open(settings, repo.clone()).await?;
        let default_key_path =
            crate::producers::ensure_default(repo.as_ref(), &settings.data_dir).await?;
        let api_listener = bind(settings.api.addr)?;
        let gateway_listener = bind(settings.gateway.addr)?;
        let gateway_key = SigningKey::load_or_create(&settings.data_dir.join(GATEWAY_KEY_FILE))
            .context("loading the gateway's handle-signing key")?;
        let metrics = Metrics::default();
        let gateway_addr = gateway_listener.local_addr()?;
        let (vault, content) =
            wiring.serve(settings, repo.clone(), &gateway_key, &metrics, gateway_addr)?;
        let gateway = gateway::startup::start(
            settings,
            repo.clone(),
            gateway_key,
            gateway_listener,
            vault.addr,
            &metrics,
        )?;
        let api = api_server::startup::start(
            settings,
            repo,
            content,
            api_listener,
            gateway.addr,
            &metrics,
        )?;
        let (api_addr, gateway_addr) = (api.addr, gateway.addr);
        let admin = shared::ops::admin::start(settings.admin.addr, metrics.clone());
        let admin_addr = admin.as_ref().map(|admin| admin.addr);
        let services = [vault.served, admin].into_iter().flatten();
        Ok(Self {
            api_addr,
            gateway_addr,
            vault_addr: vault.addr,
            admin_addr,
            metrics,
            default_key_path,
            services: services.fold(api.join(gateway), Running::join),
        })
    }

    /// Stops accepting, lets in-flight requests finish, then drains the audit logs
    /// ([`Running::stop`]).
    pub async fn stop(self) {
        self.services.stop().await;
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        self.services.run_until_signal().await
    }
}

/// Where the vault runs: in this process unless `vault.internal_url` names one of its own.
enum VaultWiring {
    Local(Vault),
    Remote(RemoteVault),
}

/// The vault as the other services see it: its address, and its service when served here.
struct VaultServer {
    addr: SocketAddr,
    served: Option<Running>,
}

impl VaultWiring {
    async fn open(settings: &Settings, repo: Arc<dyn schema::Repository>) -> anyhow::Result<Self> {
        if settings.vault.internal_url.is_empty() {
            Ok(Self::Local(open_local_vault(settings, repo).await?))
        } else {
            Ok(Self::Remote(api_server::startup::remote_vault(settings)?))
        }
    }

    /// Serves a local vault on `vault.addr`, trusting the handles `gateway_key` signs (no
    /// internal API: the services share it in-process); returns it with the API's content store.
    fn serve(
        self,
        settings: &Settings,
        repo: Arc<dyn schema::Repository>,
        gateway_key: &SigningKey,
        metrics: &Metrics,
        gateway_addr: SocketAddr,
    ) -> anyhow::Result<(VaultServer, ContentStore)> {
        let vault = match self {
            Self::Local(vault) => vault,
            Self::Remote(remote) => {
                let addr = remote_addr(&settings.vault.internal_url).unwrap_or(settings.vault.addr);
                return Ok((VaultServer { addr, served: None }, remote.into()));
            }
        };
        let listener = bind(settings.vault.addr)?;
        let handles = HandleVerifier::new([gateway_key.public_key().to_vec()]);
        let served = vault::standalone::serve(
            settings,
            repo,
            vault.clone(),
            handles,
            None,
            listener,
            metrics,
            gateway_addr,
        )?;
        let server = VaultServer {
            addr: served.addr,
            served: Some(served),
        };
        Ok((server, ContentStore::from(vault)))
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
