//! What the gateway's handlers share, built once from settings.

use std::sync::Arc;

use schema::{
    AttemptLimits, LockPolicy, LockoutRepo, NonceUseRepo, OAuthRepo, Repository, ViewerRepo,
};
use shared::client_addr::ClientRule;
use shared::config::GatewaySettings;
use shared::handle::HandleSigner;
use shared::keys::SigningKey;
use shared::sealed::SealKeys;

use crate::audience::AudienceCache;
use crate::challenge::ReplayGuard;
use crate::challenge::digest::NonceKey;
use crate::limits::Limiter;
use crate::oauth::OAuth;

/// The message whose (deterministic) Ed25519 signature keys the Digest nonces: every gateway
/// holding the handle-signing key derives the same nonce key, and no other file is needed.
const NONCE_KEY_LABEL: &[u8] = b"sealpost gateway digest nonce key v1";
/// Likewise for the HMAC key of the OAuth state and session cookies.
const COOKIE_KEY_LABEL: &[u8] = b"sealpost gateway cookie key v1";
/// Labels the secret of the audience index's HMAC key ([`crate::audience::index_key`]).
const AUDIENCE_INDEX_LABEL: &[u8] = b"sealpost gateway audience index key v1";

/// The parts of the repository the gateway uses, and nothing else: documents as viewers see
/// them, the brute-force state, pending sign-ins and used Digest nonce counters (its access log
/// has a writer of its own).
/// The gateway never sees the producers' tables.
#[derive(Clone)]
pub struct Stores {
    pub documents: Arc<dyn ViewerRepo>,
    pub locks: Arc<dyn LockoutRepo>,
    pub sign_ins: Arc<dyn OAuthRepo>,
    pub nonce_uses: Arc<dyn NonceUseRepo>,
}

impl Stores {
    /// The gateway's parts of `repo`.
    pub fn of(repo: Arc<dyn Repository>) -> Self {
        Self {
            documents: repo.clone(),
            locks: repo.clone(),
            sign_ins: repo.clone(),
            nonce_uses: repo,
        }
    }
}

pub struct GatewayService {
    pub stores: Stores,
    pub signer: HandleSigner,
    /// Public root of the vault, for handle links (`{vault}/h/{handle}`).
    pub vault_root: String,
    pub seals: SealKeys,
    pub nonces: NonceKey,
    pub replays: ReplayGuard,
    pub audiences: AudienceCache,
    pub limiter: Limiter,
    pub handle_ttl: chrono::Duration,
    pub oauth: OAuth,
    /// Whose address a request comes from (`api.trusted_proxies`): the address limits and the
    /// access log use it. [`GatewayService::new`] trusts no proxy; startup sets the rule.
    pub clients: ClientRule,
    /// Probes and metrics; [`GatewayService::new`] counts into a registry nobody scrapes,
    /// startup sets the instance's.
    pub ops: shared::ops::Ops,
}

impl GatewayService {
    pub fn new(
        settings: &GatewaySettings,
        stores: Stores,
        handle_key: SigningKey,
        seals: SealKeys,
        gateway_root: &str,
        vault_root: String,
        egress: Arc<shared::egress::EgressPolicy>,
    ) -> Self {
        let nonce_secret = zeroize::Zeroizing::new(handle_key.sign(NONCE_KEY_LABEL));
        let cookie_secret = zeroize::Zeroizing::new(handle_key.sign(COOKIE_KEY_LABEL));
        let index_secret = zeroize::Zeroizing::new(handle_key.sign(AUDIENCE_INDEX_LABEL));
        let nonce_secs = i64::try_from(settings.digest_nonce_secs.max(1)).unwrap_or(300);
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            replays: ReplayGuard::new(stores.nonce_uses.clone(), nonce_secs),
            stores,
            signer: HandleSigner::new(handle_key),
            vault_root: vault_root.trim_end_matches('/').to_owned(),
            seals,
            nonces: NonceKey::new(&nonce_secret, nonce_secs),
            audiences: AudienceCache::new(
                settings.audience_cache_records,
                crate::audience::index_key(&index_secret),
            ),
            limiter: Limiter {
                limits: AttemptLimits {
                    policy: LockPolicy {
                        failures_per_lock: settings.failures_per_lock.max(1),
                        first_lock: secs(settings.first_lock_secs),
                        max_lock: secs(settings.max_lock_secs),
                        hard_cap: settings.hard_cap_failures.max(1),
                    },
                    per_address: settings.address_failures_per_hour.max(1),
                    per_document: settings.document_failures_per_hour.max(1),
                    window: chrono::Duration::hours(1),
                },
            },
            handle_ttl: secs(settings.handle_ttl_secs.max(1)),
            oauth: OAuth::new(
                gateway_root,
                &cookie_secret,
                settings.oauth_max_session_secs,
                settings.oauth_state_secs,
                settings.oauth_timeout_secs,
                egress,
            ),
            clients: ClientRule::default(),
            ops: shared::ops::Ops::new("gateway", Default::default(), Default::default()),
        }
    }

    /// The client address of `request` by the one rule (the peer, or what trusted proxies
    /// say); the TCP peer when the request carries no gateway (bare test requests).
    pub fn client_address(request: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        match request.app_data::<actix_web::web::Data<Self>>() {
            Some(service) => service.clients.client_address(request.head()),
            None => request.peer_addr().map(|addr| addr.ip().to_canonical()),
        }
    }
}
