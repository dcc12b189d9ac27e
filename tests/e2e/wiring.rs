//! The two wirings the whole suite runs over (DESIGN.md: "the same test suite runs over both"):
//! - joined (default): `sealpost up`'s wiring, the vault inside the instance's process;
//! - split (`SEALPOST_TEST_WIRING=split`, the second pass of `scripts/test`): the vault served
//!   on its own listener as the `vault` binary serves it (service credential required, its own
//!   sweep), and the API server reaching it through `vault.internal_url` and the remote client.
//!
//! Either can run over HTTPS (`SEALPOST_TEST_TLS=1`, the third pass of `scripts/test`): every
//! service serves the certificate in `SEALPOST_TEST_TLS_DIR` (`server.pem`, `server.key`,
//! signed by `ca.pem`), the suite's clients trust that CA, and in the split wiring the API
//! server reaches the vault at `https://` trusting it too (`vault.internal_ca_file`).

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use sealpost::instance::GATEWAY_KEY_FILE;
use shared::config::Settings;
use shared::service::Running;

/// The environment variable choosing the wiring.
pub const WIRING_VAR: &str = "SEALPOST_TEST_WIRING";

/// The environment variables of the TLS wiring (see the module doc).
pub const TLS_VAR: &str = "SEALPOST_TEST_TLS";
pub const TLS_DIR_VAR: &str = "SEALPOST_TEST_TLS_DIR";

/// The directory of the TLS wiring's CA and certificate, when this run serves HTTPS.
pub fn tls_dir() -> Option<PathBuf> {
    match std::env::var(TLS_VAR).as_deref() {
        Ok("1") => Some(PathBuf::from(std::env::var(TLS_DIR_VAR).unwrap_or_else(
            |_| panic!("{TLS_VAR}=1 needs {TLS_DIR_VAR} (server.pem, server.key, ca.pem)"),
        ))),
        Ok("0") | Ok("") | Err(_) => None,
        Ok(other) => panic!("{TLS_VAR}={other:?}: expected \"1\" or \"0\""),
    }
}

/// The settings of the TLS wiring (none in a plain run); a test's own overrides come after.
pub fn tls_overrides() -> Vec<(&'static str, String)> {
    let Some(dir) = tls_dir() else {
        return Vec::new();
    };
    let path = |name: &str| dir.join(name).display().to_string();
    vec![
        ("tls.cert_file", path("server.pem")),
        ("tls.key_file", path("server.key")),
        ("vault.internal_ca_file", path("ca.pem")),
    ]
}

/// `https` when `settings` serve TLS, else `http`.
pub fn scheme(settings: &Settings) -> &'static str {
    if settings.tls.enabled() {
        "https"
    } else {
        "http"
    }
}

/// The suite's HTTP client: in the TLS wiring it trusts the wiring's CA only. An idle
/// connection is reused for 2 s only, well inside the services' keep-alive (5 s by default):
/// a test that pauses about that long (a browser's sign-in) must not send its next request
/// on a connection the service is closing (hyperium/hyper#2136).
pub fn client() -> reqwest::Client {
    let builder = reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(2));
    let Some(dir) = tls_dir() else {
        return builder.build().unwrap();
    };
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    let roots = reqwest::Certificate::from_pem_bundle(&pem).unwrap();
    builder.tls_certs_only(roots).build().unwrap()
}

/// Whether this run uses the split wiring.
pub fn split() -> bool {
    match std::env::var(WIRING_VAR).as_deref() {
        Ok("split") => true,
        Ok("joined") | Ok("") | Err(_) => false,
        Ok(other) => panic!("{WIRING_VAR}={other:?}: expected \"split\" or \"joined\""),
    }
}

/// In the split wiring, starts the vault on its own and returns the instance's settings
/// pointing at it; in the joined wiring, returns `settings` unchanged.
pub async fn prepare(
    settings: Settings,
    overrides: &[(&str, String)],
) -> (Settings, Option<Running>) {
    if !split() {
        return (settings, None);
    }
    // The instance's gateway key, created first: the vault reads its public half.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&settings.data_dir)
        .unwrap();
    shared::keys::SigningKey::load_or_create(&settings.data_dir.join(GATEWAY_KEY_FILE)).unwrap();
    let vault = vault::standalone::start(&settings).await.unwrap();
    let mut overrides = overrides.to_vec();
    let scheme = scheme(&settings);
    overrides.push(("vault.internal_url", format!("{scheme}://{}", vault.addr)));
    let settings =
        Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides).unwrap();
    (settings, Some(vault))
}
