//! Rotating the instance's signing key (`sealpost instance rotate-signing-key`) and the retired
//! keys `GET /.well-known/sealpost-keys` keeps publishing after it.
//!
//! The current key is `{data_dir}/instance-key.pem`; every key it replaced is kept in
//! `{data_dir}/instance-key.previous.pem` (PEM blocks, newest first, mode 0600). **Every retired
//! key stays published**, not only the last one: a stored document's content signature is made
//! once, at upload, and sent with its downloads for as long as the document lives (a year by
//! default), and a saved log export is checked months later; dropping a key two rotations old
//! would make those genuine signatures fail. A retired key never signs again (the API signs
//! with the current key only); to withdraw a compromised one, remove its block from the file
//! and restart.
//!
//! Each step writes a whole file atomically (temporary file, fsync, rename), and the retired
//! file is written before the current key is replaced, so there is never a moment without a
//! valid current key, and a crash in between leaves the current key also listed as retired
//! (harmless; [`retired`] drops it).

use std::path::Path;

use shared::keys::{KeyError, SigningKey};
use shared::private_file;
use zeroize::Zeroizing;

use crate::startup::INSTANCE_KEY_FILE;

/// The retired instance keys, newest first, in the data directory.
pub const PREVIOUS_KEYS_FILE: &str = "instance-key.previous.pem";

/// The key ids after a rotation: the new current key and the one it replaced.
#[derive(Debug)]
pub struct Rotation {
    pub new_key_id: String,
    pub previous_key_id: String,
    /// How many retired keys are published now (the one just retired included).
    pub retired: usize,
}

/// Makes a new current key; the old one joins the retired keys. Running services pick the new
/// key up when they restart.
pub fn rotate(data_dir: &Path) -> Result<Rotation, KeyError> {
    let current_path = data_dir.join(INSTANCE_KEY_FILE);
    let Some(current) = read_keys(&current_path)?.into_iter().next() else {
        return Err(KeyError::File(private_file::PrivateFileError::Io {
            path: current_path,
            source: std::io::ErrorKind::NotFound.into(),
        }));
    };
    let current_id = current.key_id();
    let mut retired = vec![current];
    retired.extend(
        read_keys(&data_dir.join(PREVIOUS_KEYS_FILE))?
            .into_iter()
            .filter(|key| key.key_id() != current_id),
    );
    let mut pems = Zeroizing::new(String::new());
    for key in &retired {
        pems.push_str(&key.to_pem());
    }
    private_file::write(&data_dir.join(PREVIOUS_KEYS_FILE), pems.as_bytes())?;
    let new = SigningKey::generate()?;
    private_file::write(&current_path, new.to_pem().as_bytes())?;
    Ok(Rotation {
        new_key_id: new.key_id(),
        previous_key_id: current_id,
        retired: retired.len(),
    })
}

/// The retired keys to publish beside `current`, newest first (none before a first rotation).
pub fn retired(data_dir: &Path, current: &SigningKey) -> Result<Vec<SigningKey>, KeyError> {
    Ok(read_keys(&data_dir.join(PREVIOUS_KEYS_FILE))?
        .into_iter()
        .filter(|key| key.key_id() != current.key_id())
        .collect())
}

/// The instance's first key (the oldest retired one, or `current` before any rotation): the
/// delivery secrets key is derived from it (`crate::delivery::secrets`), so deliveries queued
/// before a rotation still open their secrets after it. Removing that key from the retired
/// file therefore also makes pending deliveries fail to open theirs.
pub fn first<'a>(current: &'a SigningKey, retired: &'a [SigningKey]) -> &'a SigningKey {
    retired.last().unwrap_or(current)
}

/// Every key in a PEM file (owner-only, as [`private_file::read`] insists); none when absent.
fn read_keys(path: &Path) -> Result<Vec<SigningKey>, KeyError> {
    let Some(bytes) = private_file::read(path)? else {
        return Ok(Vec::new());
    };
    let text = Zeroizing::new(String::from_utf8(bytes).map_err(|_| KeyError::NotPem)?);
    let blocks = pem::parse_many(text.as_bytes()).map_err(|_| KeyError::NotPem)?;
    blocks
        .iter()
        .map(|block| SigningKey::from_pem(&pem::encode(block)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotations_keep_every_retired_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_create(&dir.path().join(INSTANCE_KEY_FILE)).unwrap();
        assert!(retired(dir.path(), &first).unwrap().is_empty());
        let one = rotate(dir.path()).unwrap();
        assert_eq!(one.previous_key_id, first.key_id());
        let two = rotate(dir.path()).unwrap();
        assert_eq!(
            (two.previous_key_id.as_str(), two.retired),
            (one.new_key_id.as_str(), 2)
        );
        let current = SigningKey::load_or_create(&dir.path().join(INSTANCE_KEY_FILE)).unwrap();
        assert_eq!(current.key_id(), two.new_key_id);
        let ids: Vec<_> = retired(dir.path(), &current)
            .unwrap()
            .iter()
            .map(SigningKey::key_id)
            .collect();
        assert_eq!(ids, [one.new_key_id, first.key_id()]);
        let retired = retired(dir.path(), &current).unwrap();
        assert_eq!(super::first(&current, &retired).key_id(), first.key_id());
        assert_eq!(super::first(&current, &[]).key_id(), current.key_id());
    }

    #[test]
    fn no_current_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(rotate(dir.path()).is_err());
    }
}
