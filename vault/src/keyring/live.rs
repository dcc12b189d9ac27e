//! [`LiveKeyring`]: the keyring of a running vault, which `sealpost vault rotate-key` may
//! replace on disk at any moment.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use super::{FileStamp, Keyring};
use crate::error::VaultError;

/// The ring a running vault uses, reloaded from its file when a rotation has replaced it.
///
/// Readers take an `Arc<Keyring>` snapshot and drop the lock at once: the lock is a plain
/// `std` `RwLock`, held only to clone or swap the `Arc`, never across an `.await`. Reloading
/// replaces the snapshot whole, so retired keys leave memory once the last request using the
/// old snapshot finishes.
#[derive(Debug)]
pub struct LiveKeyring {
    path: PathBuf,
    ring: RwLock<Arc<Keyring>>,
}

impl LiveKeyring {
    pub fn new(keyring: Keyring) -> Self {
        Self {
            path: keyring.path().to_owned(),
            ring: RwLock::new(Arc::new(keyring)),
        }
    }

    /// The ring as last loaded, without looking at the file: for unwrapping, where a key id
    /// the ring does not know is itself the sign to look again ([`fresh`](Self::fresh)).
    pub fn get(&self) -> Arc<Keyring> {
        Arc::clone(&self.ring.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The ring as the file says now. Costs one `stat` when nothing changed (done before
    /// every wrap, so a new upload is wrapped under the key a rotation just made current);
    /// reads the file again only when its stamp differs from the loaded one.
    pub fn fresh(&self) -> Result<Arc<Keyring>, VaultError> {
        let loaded = self.get();
        let now = FileStamp::of_path(&self.path).map_err(|source| VaultError::KeyFile {
            path: self.path.clone(),
            source,
        })?;
        if loaded.stamp == Some(now) {
            return Ok(loaded);
        }
        let reloaded = Arc::new(Keyring::load(&self.path)?);
        tracing::info!(
            current = reloaded.current_id(),
            keys = reloaded.keys.len(),
            "vault keyring reloaded"
        );
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&reloaded);
        Ok(reloaded)
    }
}
