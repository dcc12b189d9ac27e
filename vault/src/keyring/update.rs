//! What key rotation does to the key file: add a key and make it current, retire old keys,
//! write the file back. All of it under [`UpdateLock`], so two rotations can never each read
//! the file, add their own key and overwrite the other's (which would lose a key that data
//! keys may already be wrapped under).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use super::file::replace_file;
use super::{FileStamp, Keyring, random_bytes, random_id};
use crate::cipher::KEY_LEN;
use crate::error::VaultError;

/// An exclusive, advisory lock on `<key file>.lock`, held while a rotation runs. The operating
/// system releases it when the holder exits, crash included, so a rotation killed midway never
/// leaves a stale lock behind. Running vaults never take it: they only read the key file, and
/// rotation replaces that file atomically.
#[derive(Debug)]
pub struct UpdateLock {
    _file: File,
    path: PathBuf,
}

impl UpdateLock {
    /// Takes the lock for the key file at `keyring_path`, or fails at once with
    /// [`VaultError::RotationRunning`] when another process holds it.
    pub fn acquire(keyring_path: &Path) -> Result<Self, VaultError> {
        let mut name = keyring_path.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io_error = |source| VaultError::KeyFile {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(VaultError::RotationRunning { path }),
            Err(TryLockError::Error(error)) => Err(io_error(error)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Keyring {
    /// Adds a fresh random key and makes it current. The previous keys stay, so everything
    /// wrapped under them still unwraps until rotation has rewrapped it. Returns the new id.
    pub fn add_current_key(&mut self, _lock: &UpdateLock) -> Result<String, VaultError> {
        let id = loop {
            let id = random_id()?;
            if !self.keys.contains_key(&id) {
                break id;
            }
        };
        self.keys.insert(id.clone(), random_bytes::<KEY_LEN>()?);
        self.current.clone_from(&id);
        Ok(id)
    }

    /// Drops the material of the keys `ids` (never the current one) from this ring; returns the
    /// ids actually removed. Nothing changes on disk until [`save`](Self::save).
    pub fn remove_keys(&mut self, ids: &[String], _lock: &UpdateLock) -> Vec<String> {
        ids.iter()
            .filter(|id| **id != self.current && self.keys.remove(*id).is_some())
            .cloned()
            .collect()
    }

    /// Writes the ring over its file, atomically (temporary file, fsync, rename, fsync of the
    /// directory), mode 0600.
    pub fn save(&mut self, _lock: &UpdateLock) -> Result<(), VaultError> {
        let io_error = |source: io::Error| VaultError::KeyFile {
            path: self.path.clone(),
            source,
        };
        replace_file(&self.path, &self.to_json()?).map_err(io_error)?;
        self.stamp = FileStamp::of_path(&self.path).ok();
        Ok(())
    }
}
