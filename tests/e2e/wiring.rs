//! The two wirings the whole suite runs over (DESIGN.md: "the same test suite runs over both"):
//! - joined (default): `sealpost up`'s wiring, the vault inside the instance's process;
//! - split (`SEALPOST_TEST_WIRING=split`, the second pass of `scripts/test`): the vault served
//!   on its own listener as the `vault` binary serves it (service credential required, its own
//!   sweep), and the API server reaching it through `vault.internal_url` and the remote client.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use sealpost::instance::GATEWAY_KEY_FILE;
use shared::config::Settings;
use shared::service::Running;

/// The environment variable choosing the wiring.
pub const WIRING_VAR: &str = "SEALPOST_TEST_WIRING";

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
    overrides.push(("vault.internal_url", format!("http://{}", vault.addr)));
    let settings =
        Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides).unwrap();
    (settings, Some(vault))
}
