//! What every handler shares, injected once at build time.

use std::sync::Arc;

use schema::Repository;
use shared::config::SecurityMode;
use shared::sealed::SealKeys;
use shared::token::TokenIssuer;

use crate::content_store::ContentStore;

pub struct ApiContext {
    pub repo: Arc<dyn Repository>,
    /// The vault, in this process or its own (same semantics either way).
    pub vault: ContentStore,
    pub tokens: Arc<TokenIssuer>,
    /// API-key verification cache, rate-limit buckets, the client-address rule.
    pub auth: crate::auth::AuthState,
    /// The gateway's seal keys (`{data_dir}/seal-keys.json`, the file the gateway opens
    /// links with), for `POST /documents/{docId}/links`.
    pub seal_keys: SealKeys,
    pub links: Links,
    /// Content signing by the instance key: signed responses, stored content, the published
    /// keys (`x-sealpost-signature`, [`shared::content_signature`]).
    pub signer: crate::signer::Signer,
    /// Audit-log exports (`GET /logs`): their signer, where they are built.
    pub logs: crate::logs::LogExports,
    pub limits: Limits,
    pub security: SecurityMode,
    /// Delivery (`POST /documents/{docId}/deliver`): the secrets key, and this process's
    /// worker, which stops when the context is dropped.
    pub delivery: crate::delivery::Deliveries,
    /// Probes and metrics (`/healthz`, `/readyz`, the admin address's `/metrics`).
    pub ops: shared::ops::Ops,
}

/// Public base URLs written into responses (no trailing slash).
#[derive(Debug, Clone)]
pub struct Links {
    /// The spec's `apiRoot`.
    pub api_root: String,
    pub gateway_root: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_document_bytes: u64,
    pub max_json_part_bytes: usize,
    /// `api.max_expiration_days`: the latest expiration accepted, in days from now.
    pub max_expiration_days: u32,
}
