//! `sealpost vault rotate-key`: rotates the vault's key-encryption key over the data directory's
//! key file and database, whether or not `sealpost up` is running (see `vault::rotate`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use vault::rotate::{RotateOptions, RotationReport, rotate_key};

use crate::instance::KEYRING_FILE;

/// Environment variable of the **test-only** failpoint: `rotate-abort-after:N` makes the
/// rotation abort the process after N rewraps, so tests can crash it midway for real. Never
/// set it in production.
pub const FAILPOINT_ENV: &str = "SEALPOST_FAILPOINT";

/// Runs one rotation; `Ok` only when it completed (one KEK left, every data key under it).
pub async fn run(
    data_dir: &Path,
    database_url: &str,
    grace: Duration,
) -> anyhow::Result<RotationReport> {
    let keyring_path = data_dir.join(KEYRING_FILE);
    if !keyring_path.exists() {
        anyhow::bail!(
            "no vault keyring at {}: is this a Sealpost data directory?",
            keyring_path.display()
        );
    }
    let repo = schema::connect(database_url)
        .await
        .context("opening the database")?;
    let options = RotateOptions {
        grace,
        abort_after: failpoint()?,
        ..RotateOptions::default()
    };
    let report = rotate_key(repo.as_ref(), &keyring_path, &options)
        .await
        .context("rotating the vault's key-encryption key")?;
    Ok(report)
}

/// Reads [`FAILPOINT_ENV`]; any other value is refused rather than ignored.
fn failpoint() -> anyhow::Result<Option<u64>> {
    let Ok(value) = std::env::var(FAILPOINT_ENV) else {
        return Ok(None);
    };
    value
        .strip_prefix("rotate-abort-after:")
        .and_then(|n| n.parse().ok())
        .map(Some)
        .with_context(|| format!("{FAILPOINT_ENV}={value:?} is not rotate-abort-after:N"))
}

/// `sealpost records rotate-key`: adds a record key and makes it current
/// ([`shared::record_keys::rotate`]), then reseals every document's sealed columns under it.
/// Returns the new key's id and how many values were resealed.
pub async fn rotate_record_key(
    settings: &shared::config::Settings,
) -> anyhow::Result<(String, u64)> {
    let path = settings
        .data_dir
        .join(shared::record_keys::RECORD_KEYS_FILE);
    let key_id = shared::record_keys::rotate(&path).context("adding a record key")?;
    let repo = shared::record_keys::connect(settings).await?;
    let resealed = repo
        .reseal_records()
        .await
        .context("resealing document records under the new key")?;
    Ok((key_id, resealed))
}
