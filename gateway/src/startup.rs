//! Building the gateway from settings: what `sealpost up` and the `gateway` binary share.

use std::sync::Arc;

use schema::Repository;
use shared::config::Settings;
use shared::keys::SigningKey;
use shared::sealed::{SEAL_KEYS_FILE, SealError, SealKeys};

use crate::GatewayService;

/// Why the gateway could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("loading the sealed-link keys")]
    SealKeys(#[source] SealError),
    /// The egress settings are invalid; the message names the setting.
    #[error("{0}")]
    Egress(String),
}

/// The gateway's state: `handle_key` signs handles (the vault trusts its public half), the seal
/// keys in the data directory open sealed links, `gateway_root` and `vault_root` are the public
/// URLs of the gateway (for the OAuth redirect URI) and of the vault (for handle links).
pub fn service(
    settings: &Settings,
    repo: Arc<dyn Repository>,
    handle_key: SigningKey,
    gateway_root: &str,
    vault_root: String,
) -> Result<Arc<GatewayService>, StartupError> {
    let seals = SealKeys::load_or_create(&settings.data_dir.join(SEAL_KEYS_FILE))
        .map_err(StartupError::SealKeys)?;
    // OAuth requests go where a producer's challenge says: under the egress policy.
    let egress = shared::egress::EgressPolicy::from_settings(&settings.egress)
        .map_err(StartupError::Egress)?;
    Ok(Arc::new(GatewayService::new(
        &settings.gateway,
        repo,
        handle_key,
        seals,
        gateway_root,
        vault_root,
        Arc::new(egress),
    )))
}
