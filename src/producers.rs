//! Producers and their keys.
//!
//! A producer's key is an Ed25519 private key handed out once as PKCS#8 PEM; Sealpost keeps
//! only the public half, so a copy of the database cannot be used to log in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::Utc;
use schema::repo::UniqueKey;
use schema::{Producer, ProducerId, Repository};
use shared::keys::SigningKey;
use zeroize::Zeroizing;

/// Name of the producer created on first start.
pub const DEFAULT_PRODUCER: &str = "default";

/// Names are short, printable and path-safe: they appear in file names and logs.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!(
            "producer names are 1 to 64 characters of letters, digits, '-', '_' and '.' (not starting with '.')"
        );
    }
    Ok(())
}

/// Registers a new producer and returns its private key as PEM (the only copy).
pub async fn add(
    repo: &dyn Repository,
    name: &str,
    email: Option<&str>,
) -> anyhow::Result<Zeroizing<String>> {
    validate_name(name)?;
    let key = SigningKey::generate().context("generating the producer key")?;
    let producer = Producer {
        id: ProducerId::random(),
        name: name.to_owned(),
        email: email.map(str::to_owned),
        public_key: key.public_key().to_vec(),
        created_at: Utc::now(),
    };
    repo.insert_producer(&producer)
        .await
        .map_err(|error| match error {
            schema::RepoError::Conflict {
                what: UniqueKey::ProducerName,
            } => anyhow::anyhow!("a producer named {name:?} already exists"),
            other => anyhow::Error::new(other).context("saving the producer"),
        })?;
    Ok(key.to_pem())
}

/// On a data directory with no producer, creates `default` and writes its key to
/// `DIR/producer-default.pem` (mode 0600). Returns the path when it did.
pub async fn ensure_default(
    repo: &dyn Repository,
    data_dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    if repo.count_producers().await? > 0 {
        return Ok(None);
    }
    let pem = add(repo, DEFAULT_PRODUCER, None).await?;
    let path = data_dir.join(format!("producer-{DEFAULT_PRODUCER}.pem"));
    shared::private_file::write(&path, pem.as_bytes())
        .context("writing the default producer's key")?;
    Ok(Some(path))
}
