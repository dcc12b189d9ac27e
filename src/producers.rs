//! Producers and their keys.
//!
//! A producer's key is an Ed25519 private key handed out once as PKCS#8 PEM; Sealpost keeps
//! only the public half, so a copy of the database cannot be used to log in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::Utc;
use schema::repo::{KeyRemoval, MAX_KEYS_PER_PRODUCER, ProducerKey, UniqueKey};
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

/// A producer's key: its id and, for a new one, the private key as PEM (the only copy).
pub struct NewKey {
    pub key_id: String,
    pub pem: Zeroizing<String>,
}

/// The producer named `name` (an error naming it when there is none).
async fn named(repo: &dyn Repository, name: &str) -> anyhow::Result<Producer> {
    repo.producer_by_name(name)
        .await
        .context("reading the producer")?
        .with_context(|| format!("no producer is named {name:?}"))
}

/// `sealpost producer key add`: a new key pair for producer `name`; only its public half is
/// stored. The private key is returned as PKCS#8 v1 PEM.
pub async fn add_key(repo: &dyn Repository, name: &str) -> anyhow::Result<NewKey> {
    let producer = named(repo, name).await?;
    let key = SigningKey::generate().context("generating the producer key")?;
    let record = ProducerKey {
        id: ProducerKey::new_id(),
        producer_id: producer.id,
        public_key: key.public_key().to_vec(),
        created_at: Utc::now(),
    };
    let added = (repo.add_producer_key(&record).await).context("saving the producer key")?;
    if !added {
        bail!(
            "producer {name:?} holds {MAX_KEYS_PER_PRODUCER} keys, the most it may: remove one first"
        );
    }
    Ok(NewKey {
        key_id: record.id,
        pem: key.to_pem(),
    })
}

/// `sealpost producer key list`: producer `name`'s keys, oldest first.
pub async fn list_keys(repo: &dyn Repository, name: &str) -> anyhow::Result<Vec<ProducerKey>> {
    let producer = named(repo, name).await?;
    Ok(repo.producer_keys(&producer.id).await?)
}

/// `sealpost producer key remove`: removes key `key_id` of producer `name` and revokes the
/// login sessions it opened (their tokens stop working at once); refuses the last key.
/// Returns how many sessions were revoked.
pub async fn remove_key(repo: &dyn Repository, name: &str, key_id: &str) -> anyhow::Result<u64> {
    let producer = named(repo, name).await?;
    match repo
        .remove_producer_key(&producer.id, key_id, Utc::now())
        .await?
    {
        KeyRemoval::Removed { sessions_revoked } => Ok(sessions_revoked),
        KeyRemoval::Unknown => bail!("producer {name:?} has no key {key_id:?}"),
        KeyRemoval::LastKey => bail!(
            "key {key_id:?} is producer {name:?}'s last key and cannot be removed: add another first"
        ),
    }
}
