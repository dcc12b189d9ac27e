//! Configuration: one typed [`Settings`] tree, loaded once at start-up.
//!
//! Layers, later ones winning: built-in defaults ← `sealpost.toml` (or the file given with
//! `--config`) ← environment variables `SEALPOST__SECTION__KEY` (e.g. `SEALPOST__API__ADDR`)
//! ← command-line flags. Nothing reads configuration after start-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration")]
pub struct ConfigError(#[from] config::ConfigError);

/// Who may browse: the spec's two instance modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityMode {
    /// `GET /documents` lists the producer's documents.
    Low,
    /// Browsing is refused (405) and the producer cannot read content back through the API.
    High,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Where the embedded database, the local object store and the key files live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub audit: AuditSettings,
    pub api: ApiSettings,
    pub gateway: GatewaySettings,
    pub vault: VaultSettings,
    pub telemetry: TelemetrySettings,
    /// HTTP worker threads per service; 0 means one per core.
    pub workers: usize,
    /// Timeouts and connection caps every HTTP service applies (issue 14, finding 5).
    pub server: ServerSettings,
    pub delivery: DeliverySettings,
    pub egress: EgressSettings,
    /// The admin address: `GET /metrics` (issue 18), never on a public port.
    pub admin: AdminSettings,
    /// HTTPS served by the services themselves (see [`crate::tls`]).
    pub tls: TlsSettings,
}

/// TLS built in: every service of the process serves HTTPS with this certificate when both
/// files are set (`--tls-cert`/`--tls-key`, `SEALPOST__TLS__CERT_FILE`, …); the certificate
/// is re-read on SIGHUP.
#[derive(Debug, Clone, Deserialize)]
pub struct TlsSettings {
    /// The certificate chain (PEM, leaf first); empty: plain HTTP.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Plain HTTP on a non-loopback address (and an `http://` `vault.internal_url` to another
    /// host) is refused unless this is set: for a service behind a TLS-terminating proxy.
    pub allow_plain_http: bool,
}

impl TlsSettings {
    /// Whether the services serve HTTPS (both files set).
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty() && !self.key_file.as_os_str().is_empty()
    }
}

/// Where `GET /metrics` is served (`--admin-addr`); port 0 picks a free port.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    pub addr: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite:PATH` or `postgres://…`; empty means `sqlite:{data_dir}/sealpost.db`.
    pub url: String,
}

/// Audit-log retention (issue 7). A log's lines older than its retention are deleted by a
/// sweep that the API log records; `0` keeps them for ever (the default). Nothing here can
/// switch auditing off: every request is recorded whatever these say, and a retention, when
/// set, is at least a day.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    pub api_retention_days: u32,
    pub gateway_retention_days: u32,
    pub vault_retention_days: u32,
    /// How often the retention sweep runs (when any retention is set).
    pub retention_sweep_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub addr: SocketAddr,
    /// The apiRoot written into links; empty means `http://{bound address}` (`https://` with
    /// TLS on).
    pub public_url: String,
    pub token_ttl_secs: u64,
    pub security: SecurityMode,
    /// Largest document accepted, in bytes (413 beyond).
    pub max_document_bytes: u64,
    /// Largest JSON part (audience, challenge, …), in bytes (413 beyond).
    pub max_json_part_bytes: usize,
    /// How often expired documents are destroyed (they are refused at once regardless).
    pub expiry_sweep_secs: u64,
    /// Latest expiration a document may be given, in days from now (422 naming `expiration`
    /// beyond).
    pub max_expiration_days: u32,
    /// Peers (CIDRs) whose `Forwarded` / `X-Forwarded-For` is believed when deciding a
    /// client's address: the API's allowlist, the gateway's address limits and every log's
    /// remote-IP column use the same rule. Empty (the default): the TCP peer, always.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// The token bucket of a login token, and of an API key without its own `rateLimit`:
    /// requests a second, sustained.
    pub rate_per_sec: u32,
    /// … and the burst it allows.
    pub rate_burst: u32,
}

/// What every HTTP service (API, gateway, vault with its internal API) allows a client, so a
/// slow or idle one cannot hold connections for as long as it likes (issue 14, finding 5).
/// `server.keep_alive_secs` when unset; also what a client of our services assumes when it is
/// not told the server's (`vault::internal::RemoteVault::new`).
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 5;

/// Document bodies have an idle timeout but no total one, so a slow but honest multi-gigabyte
/// upload completes; every other body must arrive whole within `small_body_timeout_secs`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// A request head (request line and headers) must arrive within this, on a new connection
    /// and on a kept-alive one (408 or the connection closed).
    pub header_timeout_secs: u64,
    /// An idle kept-alive connection is closed after this.
    pub keep_alive_secs: u64,
    /// A request body that sends nothing for this long is cut (408 problem+json).
    pub body_idle_timeout_secs: u64,
    /// A body other than a document upload (`POST /login`, JSON parts, …) must arrive whole
    /// within this (408 problem+json).
    pub small_body_timeout_secs: u64,
    /// Connections one worker thread holds at once; beyond, it stops accepting until one ends.
    pub max_connections: usize,
    /// Connections one client address holds at once, per service; a connection beyond is
    /// closed at once, so one address cannot take the service from others. 0: no cap.
    pub max_connections_per_address: usize,
}

/// The viewer-facing gateway. The brute-force limits follow issue 5: 5 failures lock a
/// (document, viewer) pair for 15 minutes, doubling per further lock up to 24 hours, 50 in all
/// lock it until the producer resets it; at most 100 failures an hour per client address.
#[derive(Debug, Clone, Deserialize)]
pub struct GatewaySettings {
    pub addr: SocketAddr,
    /// Public base URL; empty means `http://{bound address}` (`https://` with TLS on).
    pub public_url: String,
    /// Lifetime of the handles the gateway mints.
    pub handle_ttl_secs: u64,
    /// Lifetime of a Digest nonce (a browser retries an expired one silently, `stale=true`).
    pub digest_nonce_secs: u64,
    pub failures_per_lock: u32,
    pub first_lock_secs: u64,
    pub max_lock_secs: u64,
    pub hard_cap_failures: u32,
    /// Failed challenges accepted per client address per hour (fixed windows).
    pub address_failures_per_hour: u32,
    /// Failed guesses (viewer tokens matching no member, wrong passwords) accepted per
    /// document per hour from all addresses together (fixed windows); beyond it the document
    /// request answers 429 to everyone until the hour ends.
    pub document_failures_per_hour: u32,
    /// Audience records kept indexed in memory, over all documents (least recently used
    /// audiences are dropped first and rebuilt on demand).
    pub audience_cache_records: u64,
    /// Longest OAuth session (a viewer's handles without another dance), whatever the access
    /// token's own lifetime; never past the document's expiration either.
    pub oauth_max_session_secs: u64,
    /// How long a viewer has to finish signing in at the provider.
    pub oauth_state_secs: u64,
    /// Timeout of each request to a provider (discovery, keys, token exchange).
    pub oauth_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VaultSettings {
    pub addr: SocketAddr,
    pub public_url: String,
    /// Orphan sweep: objects no document references, older than this, are deleted. Unset means
    /// 0 for `sealpost up` with its own vault (nothing of its own is in flight at start) and
    /// [`SHARED_ORPHAN_GRACE_SECS`] for the `vault` binary, which other processes upload through
    /// (see [`Self::orphan_grace`]).
    pub orphan_grace_secs: Option<u64>,
    /// Where the encrypted objects live: empty means `{data_dir}/objects` on local disk;
    /// `s3://bucket[/prefix]` an S3-compatible store, configured by the standard `AWS_*`
    /// environment variables (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, …).
    pub store_url: String,
    /// How often the `vault` binary sweeps again after start-up (0: only at start-up).
    pub sweep_interval_secs: u64,
    /// Where the API server reaches a vault running as its own process (e.g.
    /// `http://vault:8082`); empty means the vault runs inside `sealpost up`.
    pub internal_url: String,
    /// The service credential for the internal object API (base64url of 32 random bytes).
    /// Empty means the file `service_token_file`.
    pub service_token: secrecy::SecretString,
    /// Empty means `{data_dir}/vault-service-token`, created by the vault on first start.
    pub service_token_file: PathBuf,
    /// The CA certificate(s) (PEM) the API server trusts for an `https://` `internal_url`;
    /// empty: the system's roots.
    pub internal_ca_file: PathBuf,
    /// Public keys (base64url, raw 32-byte Ed25519) of the handle issuers the `vault` binary
    /// trusts. Empty means the public half of `{data_dir}/gateway-key.pem`.
    pub handle_public_keys: Vec<String>,
    /// The vault access log is written in batches: a record waits at most this long (and
    /// every record is written on a clean shutdown).
    pub log_flush_secs: u64,
}

/// The orphan grace of a vault that other processes upload through: one day, far above the
/// longest upload plus the time a caller takes to commit its record.
pub const SHARED_ORPHAN_GRACE_SECS: u64 = 86_400;

impl VaultSettings {
    /// The orphan sweep's grace: as configured, else 0 for a vault only its own process uses
    /// (`shared == false`) and [`SHARED_ORPHAN_GRACE_SECS`] for one that others upload through,
    /// so a vault starting (or a replica sweeping) never deletes an upload still under way
    /// elsewhere.
    pub fn orphan_grace(&self, shared: bool) -> std::time::Duration {
        let default = if shared { SHARED_ORPHAN_GRACE_SECS } else { 0 };
        std::time::Duration::from_secs(self.orphan_grace_secs.unwrap_or(default))
    }
}

/// The delivery worker each API server runs (`POST /documents/{docId}/deliver`). Times are in
/// milliseconds so tests can run the whole retry schedule in a second or two.
#[derive(Debug, Clone, Deserialize)]
pub struct DeliverySettings {
    /// Attempts in flight at once in this process (across all deliveries); 0 stops the worker.
    pub concurrency: usize,
    /// How often the queue is polled when it was found empty.
    pub poll_ms: u64,
    /// Timeout of one attempt (connect, send, answer), HTTP, SMTP or XML-RPC.
    pub timeout_ms: u64,
    /// A claimed job is due again after this long if its worker died; must exceed `timeout_ms`.
    pub lease_ms: u64,
    /// The first retry's delay; each further retry doubles it (up to `backoff_max_ms`), and a
    /// random jitter of up to half the delay is added so failed jobs do not retry in lockstep.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Attempts before a job failing with network errors or 5xx answers is given up.
    pub max_attempts: u32,
    /// The SMTP server of email fulfillments whose deliver request names none (`smtp://` or
    /// `smtps://`, credentials in the URL); empty means a deliver request must give `smtp_url`.
    pub smtp_url: secrecy::SecretString,
}

/// The egress policy of every outbound request made on a producer's behalf (deliveries over
/// HTTP, XML-RPC and SMTP; OAuth discovery, token and keys): see [`crate::egress`].
#[derive(Debug, Clone, Deserialize)]
pub struct EgressSettings {
    /// CIDRs reachable although the policy refuses their range by default (loopback, private,
    /// link-local, …), e.g. `["10.1.0.0/16"]`; in the environment a comma-separated list
    /// (`SEALPOST__EGRESS__ALLOW=127.0.0.0/8,::1/128`). Plain-`http` OAuth endpoints are
    /// reachable only at these addresses.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub allow: Vec<String>,
}

/// A list, or one string of comma-separated items (an environment variable or a command-line
/// override); empty items are dropped.
fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        One(String),
        Many(Vec<String>),
    }
    let items = match Items::deserialize(deserializer)? {
        Items::One(text) => text.split(',').map(str::to_owned).collect(),
        Items::Many(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// `text` or `json`; anything else is refused when the settings load.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info,sqlx=warn`.
    pub filter: String,
}

/// How the services write their own diagnostics (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; coloured only on a terminal.
    Text,
    /// One JSON object a line.
    Json,
}

impl Settings {
    /// [`load`](Self::load) for a service binary: its `--data-dir` and `--addr` flags (the
    /// latter for the setting `addr_key`, e.g. `vault.addr`) override everything else.
    pub fn load_for_service(
        file: Option<&Path>,
        data_dir: Option<&Path>,
        addr_key: &str,
        addr: Option<SocketAddr>,
    ) -> Result<Self, ConfigError> {
        let overrides: Vec<(&str, String)> = [
            data_dir.map(|dir| ("data_dir", dir.display().to_string())),
            addr.map(|addr| (addr_key, addr.to_string())),
        ]
        .into_iter()
        .flatten()
        .collect();
        Self::load(file, &overrides)
    }

    /// Loads defaults, then `file` (when it exists), then the environment, then `overrides`
    /// (`("api.addr", "127.0.0.1:9000")` pairs from the command line).
    pub fn load(file: Option<&Path>, overrides: &[(&str, String)]) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .set_default("data_dir", "./sealpost-data")?
            .set_default("workers", 0)?
            .set_default("database.url", "")?
            .set_default("audit.api_retention_days", 0)?
            .set_default("audit.gateway_retention_days", 0)?
            .set_default("audit.vault_retention_days", 0)?
            .set_default("audit.retention_sweep_secs", 3600)?
            .set_default("api.addr", "127.0.0.1:8080")?
            .set_default("api.public_url", "")?
            .set_default("api.token_ttl_secs", 3600)?
            .set_default("api.security", "low")?
            .set_default("api.max_document_bytes", 16_u64 << 30)?
            .set_default("api.max_json_part_bytes", 1_u64 << 20)?
            .set_default("api.expiry_sweep_secs", 60)?
            .set_default("api.max_expiration_days", 3650)?
            .set_default("api.trusted_proxies", Vec::<String>::new())?
            .set_default("api.rate_per_sec", 100)?
            .set_default("api.rate_burst", 200)?
            .set_default("server.header_timeout_secs", 10)?
            .set_default("server.keep_alive_secs", DEFAULT_KEEP_ALIVE_SECS)?
            .set_default("server.body_idle_timeout_secs", 30)?
            .set_default("server.small_body_timeout_secs", 60)?
            .set_default("server.max_connections", 10_000)?
            .set_default("server.max_connections_per_address", 256)?
            .set_default("gateway.addr", "127.0.0.1:8081")?
            .set_default("gateway.public_url", "")?
            .set_default("gateway.handle_ttl_secs", 300)?
            .set_default("gateway.digest_nonce_secs", 300)?
            .set_default("gateway.failures_per_lock", 5)?
            .set_default("gateway.first_lock_secs", 15 * 60)?
            .set_default("gateway.max_lock_secs", 24 * 3600)?
            .set_default("gateway.hard_cap_failures", 50)?
            .set_default("gateway.address_failures_per_hour", 100)?
            .set_default("gateway.document_failures_per_hour", 200)?
            .set_default("gateway.audience_cache_records", 2_000_000)?
            .set_default("gateway.oauth_max_session_secs", 3600)?
            .set_default("gateway.oauth_state_secs", 600)?
            .set_default("gateway.oauth_timeout_secs", 10)?
            .set_default("vault.addr", "127.0.0.1:8082")?
            .set_default("vault.public_url", "")?
            .set_default("vault.store_url", "")?
            .set_default("vault.sweep_interval_secs", 3600)?
            .set_default("vault.internal_url", "")?
            .set_default("vault.service_token", "")?
            .set_default("vault.service_token_file", "")?
            .set_default("vault.internal_ca_file", "")?
            .set_default("tls.cert_file", "")?
            .set_default("tls.key_file", "")?
            .set_default("tls.allow_plain_http", false)?
            .set_default("vault.handle_public_keys", Vec::<String>::new())?
            .set_default("vault.log_flush_secs", 5)?
            .set_default("delivery.concurrency", 32)?
            .set_default("delivery.poll_ms", 500)?
            .set_default("delivery.timeout_ms", 30_000)?
            .set_default("delivery.lease_ms", 120_000)?
            .set_default("delivery.backoff_base_ms", 2_000)?
            .set_default("delivery.backoff_max_ms", 3_600_000)?
            .set_default("delivery.max_attempts", 12)?
            .set_default("delivery.smtp_url", "")?
            .set_default("egress.allow", Vec::<String>::new())?
            .set_default("admin.addr", "127.0.0.1:9464")?
            .set_default("telemetry.format", "text")?
            .set_default("telemetry.filter", "info,sqlx=warn")?;
        let file = file.unwrap_or(Path::new("sealpost.toml"));
        builder = builder.add_source(config::File::from(file).required(false));
        builder = builder.add_source(
            config::Environment::with_prefix("SEALPOST")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("vault.handle_public_keys"),
        );
        for (key, value) in overrides {
            builder = builder.set_override(*key, value.as_str())?;
        }
        Ok(builder.build()?.try_deserialize()?)
    }

    /// The database URL, defaulting to the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite:{}", self.data_dir.join("sealpost.db").display())
        } else {
            self.database.url.clone()
        }
    }
}

/// `configured` when set, else `https://{bound}` when the services serve TLS and
/// `http://{bound}` when not, without a trailing slash.
pub fn public_url(configured: &str, bound: SocketAddr, tls: bool) -> String {
    if configured.is_empty() {
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{bound}")
    } else {
        configured.trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_then_file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sealpost.toml");
        std::fs::write(
            &file,
            "[api]\naddr = \"127.0.0.1:9999\"\ntoken_ttl_secs = 60\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file), &[("api.token_ttl_secs", "5".into())]).unwrap();
        assert_eq!(settings.api.addr.port(), 9999);
        assert_eq!(settings.api.token_ttl_secs, 5);
        assert_eq!(settings.gateway.addr.port(), 8081);
        assert_eq!(settings.api.security, SecurityMode::Low);
        assert!(settings.database_url().starts_with("sqlite:"));
    }

    #[test]
    fn egress_allow_is_a_list_or_comma_separated() {
        let settings = Settings::load(None, &[]).unwrap();
        assert!(settings.egress.allow.is_empty());
        let overrides = [("egress.allow", "127.0.0.0/8, ::1/128".into())];
        let settings = Settings::load(None, &overrides).unwrap();
        assert_eq!(settings.egress.allow, ["127.0.0.0/8", "::1/128"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sealpost.toml");
        std::fs::write(&file, "[egress]\nallow = [\"10.1.0.0/16\"]\n").unwrap();
        let settings = Settings::load(Some(&file), &[]).unwrap();
        assert_eq!(settings.egress.allow, ["10.1.0.0/16"]);
    }

    #[test]
    fn public_url_defaults_to_bound_address() {
        let bound: SocketAddr = "127.0.0.1:1234".parse().unwrap();
        assert_eq!(public_url("", bound, false), "http://127.0.0.1:1234");
        assert_eq!(public_url("", bound, true), "https://127.0.0.1:1234");
        assert_eq!(
            public_url("https://x.example/", bound, false),
            "https://x.example"
        );
    }
}
