//! The record key file (`record-keys.json` in the data directory, mode 0600): the AES-256-GCM
//! keys that seal the documents' viewer data and secrets in the database ([`schema::cipher`]). The API server and the gateway both load
//! it (the vault never does: it needs no viewer data); in a split deployment give both the
//! same file, with the same care as the other key files.
//!
//! Format: `{"current": "<id>", "keys": {"<id>": "<base64url of 32 bytes>", …}}`. `sealpost records rotate-key` adds a key, makes it current and
//! reseals every row under it; older keys stay in the file so values a running service sealed
//! with them still open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};
use schema::cipher::{RECORD_KEY_LEN, RecordCipher, RecordKeys};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::private_file::{self, PrivateFileError};

/// The record key file, inside the data directory.
pub const RECORD_KEYS_FILE: &str = "record-keys.json";
const KEY_ID_LEN: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum RecordKeyFileError {
    #[error("record key file: {0}")]
    File(#[from] PrivateFileError),
    #[error("record key file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the system random number generator failed")]
    Random,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    current: String,
    keys: BTreeMap<String, String>,
}

fn random_text<const N: usize>() -> Result<String, RecordKeyFileError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| RecordKeyFileError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(*bytes))
}

fn invalid(path: &Path, reason: impl Into<String>) -> RecordKeyFileError {
    RecordKeyFileError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn read_file(path: &Path) -> Result<Option<KeyFile>, RecordKeyFileError> {
    let Some(bytes) = private_file::read(path)? else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(bytes);
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| invalid(path, "not JSON of the expected shape"))
}

fn write_file(path: &Path, file: &KeyFile) -> Result<(), RecordKeyFileError> {
    let text = Zeroizing::new(serde_json::to_vec(file).map_err(|_| invalid(path, "unwritable"))?);
    private_file::write(path, &text)?;
    Ok(())
}

fn keys_of(path: &Path, file: &KeyFile) -> Result<RecordKeys, RecordKeyFileError> {
    let decode = |text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map(Zeroizing::new)
            .map_err(|_| invalid(path, "a key is not base64url"))
    };
    let mut keys = Vec::with_capacity(file.keys.len());
    for (id, secret) in &file.keys {
        keys.push((id.clone(), decode(secret)?.to_vec()));
    }
    let result = RecordKeys::new(&file.current, &keys);
    for (_, bytes) in &mut keys {
        zeroize::Zeroize::zeroize(bytes);
    }
    result.map_err(|e| invalid(path, e.to_string()))
}

/// Loads the key file at `path`, or creates it with one fresh key.
///
/// Creation never replaces a file: the API server and the gateway may start at once on an
/// empty data directory, and two different keys would leave each unable to read what the other
/// wrote. The new file is written aside, then hard-linked into place, which fails if the name
/// exists; the loser loads the winner's file.
pub fn load_or_create(path: &Path) -> Result<RecordKeys, RecordKeyFileError> {
    if let Some(file) = read_file(path)? {
        return keys_of(path, &file);
    }
    let id = random_text::<KEY_ID_LEN>()?;
    let file = KeyFile {
        current: id.clone(),
        keys: BTreeMap::from([(id, random_text::<RECORD_KEY_LEN>()?)]),
    };
    let text = Zeroizing::new(serde_json::to_vec(&file).map_err(|_| invalid(path, "unwritable"))?);
    private_file::create_once(path, &text)?;
    let file = read_file(path)?.ok_or_else(|| invalid(path, "the new key file vanished"))?;
    keys_of(path, &file)
}

/// The cipher a service seals and opens records with: the file's keys, reloaded from the file
/// when a stored value names a key added since (a rotation while the service runs).
pub fn cipher(path: &Path) -> Result<Arc<RecordCipher>, RecordKeyFileError> {
    let keys = load_or_create(path)?;
    let reload_path = path.to_owned();
    let reload = move || match read_file(&reload_path).and_then(|file| {
        file.ok_or_else(|| invalid(&reload_path, "missing"))
            .and_then(|file| keys_of(&reload_path, &file))
    }) {
        Ok(keys) => Some(keys),
        Err(error) => {
            tracing::warn!(%error, "record keys could not be reloaded");
            None
        }
    };
    Ok(Arc::new(
        RecordCipher::new(keys).with_reload(Box::new(reload)),
    ))
}

/// Adds a fresh key to the file at `path` and makes it current (older keys stay, so what they
/// sealed still opens); returns the new key's id.
pub fn rotate(path: &Path) -> Result<String, RecordKeyFileError> {
    let mut file = read_file(path)?.ok_or_else(|| {
        invalid(
            path,
            "missing: is this a data directory the services have run on?",
        )
    })?;
    keys_of(path, &file)?;
    let id = random_text::<KEY_ID_LEN>()?;
    file.keys
        .insert(id.clone(), random_text::<RECORD_KEY_LEN>()?);
    file.current = id.clone();
    write_file(path, &file)?;
    Ok(id)
}

/// Opens the database of `settings` with the record keys of its data directory (created on
/// first start, mode 0600): what the API server and the gateway use, so viewer data and
/// secrets are sealed on the way in and opened on the way out.
pub async fn connect(
    settings: &crate::config::Settings,
) -> anyhow::Result<Arc<dyn schema::Repository>> {
    use anyhow::Context as _;
    let cipher =
        cipher(&settings.data_dir.join(RECORD_KEYS_FILE)).context("loading the record keys")?;
    schema::connect_with_records(&settings.database_url(), Some(cipher))
        .await
        .context("opening the database")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn created_0600_stable_and_rotatable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECORD_KEYS_FILE);
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = first.seal("doc", "audience", b"{}").unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(again.current_id(), first.current_id());
        assert_eq!(again.open("doc", "audience", &sealed).unwrap(), b"{}");

        let cipher = cipher(&path).unwrap();
        let new_id = rotate(&path).unwrap();
        assert_ne!(new_id, first.current_id());
        let rotated = load_or_create(&path).unwrap();
        assert_eq!(rotated.current_id(), new_id);
        assert_eq!(rotated.open("doc", "audience", &sealed).unwrap(), b"{}");
        // A running service meets a value sealed under the new key: it reloads the file.
        let newer = rotated.seal("doc", "audience", b"[1]").unwrap();
        assert_eq!(cipher.open("doc", "audience", &newer).unwrap(), b"[1]");
        assert_eq!(cipher.keys().current_id(), new_id);
    }

    #[test]
    fn refuses_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECORD_KEYS_FILE);
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
