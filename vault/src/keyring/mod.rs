//! Key-encryption keys (KEKs), kept in a JSON file only the vault's user can read:
//! `{"current": "<id>", "keys": {"<id>": "<base64 of 32 bytes>"}}`.
//!
//! Every object's data key is wrapped under the current KEK and the wrapped key is stored in the
//! database row of its object, never beside the ciphertext. So a copy of the object store alone is
//! useless, a copy of the database alone is useless, and deleting the row crypto-shreds the object
//! even if the blob lingers in a backup. Several keys may be present with one current, so a later
//! rotation can add a key, rewrap data keys under it and retire the old one without re-encrypting
//! any content.
//!
//! - `file`: the JSON shape, loading (refusing loose permissions), atomic create and replace.
//! - `update`: what rotation does to the file ([`UpdateLock`], add a key, retire keys, save).
//! - `live`: [`LiveKeyring`], the copy a running vault holds, reloaded when rotation replaces
//!   the file.

mod file;
mod live;
mod update;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use schema::ObjectKey;
use zeroize::Zeroizing;

use crate::cipher::{KEY_LEN, TAG_LEN};
use crate::error::VaultError;
use file::create_file;

pub use live::LiveKeyring;
pub use update::UpdateLock;

/// A 256-bit secret that is wiped from memory when dropped.
pub type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// Length of a wrapped data key: nonce ‖ ciphertext ‖ tag.
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// The vault's key-encryption keys, one of them current (used for new wraps).
pub struct Keyring {
    path: PathBuf,
    current: String,
    keys: BTreeMap<String, SecretKey>,
    /// Identity of the file this ring was read from (`None` when not read from one), so a live
    /// vault can tell with one `stat` whether a rotation has replaced it.
    stamp: Option<FileStamp>,
}

/// What identifies one version of the key file; see `FileStamp::of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Fills a fresh buffer from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, VaultError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| VaultError::Random)?;
    Ok(bytes)
}

/// Key ids are short random text: they name a key in rows and logs without saying anything about it.
fn random_id() -> Result<String, VaultError> {
    Ok(URL_SAFE_NO_PAD.encode(*random_bytes::<8>()?))
}

impl Keyring {
    /// Loads the keyring at `path`, or creates one with a single fresh key when there is no file.
    pub fn load_or_create(path: &Path) -> Result<Self, VaultError> {
        if let Some(keyring) = Self::try_load(path)? {
            return Ok(keyring);
        }
        let id = random_id()?;
        let mut keys = BTreeMap::new();
        keys.insert(id.clone(), random_bytes::<KEY_LEN>()?);
        let keyring = Self {
            path: path.to_owned(),
            current: id,
            keys,
            stamp: None,
        };
        match create_file(path, &keyring.to_json()?) {
            Ok(()) => Ok(keyring),
            // Another process created it first: use theirs, never overwrite a key file.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Self::load(path),
            Err(source) => Err(VaultError::KeyFile {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Loads an existing keyring, refusing a file that group or others may access.
    pub fn load(path: &Path) -> Result<Self, VaultError> {
        Self::try_load(path)?.ok_or_else(|| VaultError::KeyFile {
            path: path.to_owned(),
            source: io::ErrorKind::NotFound.into(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The id of the key new data keys are wrapped under.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// Ids of every key in the ring.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether the ring holds key `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// Wraps `data_key` for `object` under the current KEK: AES-256-GCM with a random 96-bit
    /// nonce (KEKs wrap many keys, so the nonce cannot be a counter without shared state), output
    /// `nonce ‖ ciphertext ‖ tag`. Returns the KEK id to store beside it.
    pub fn wrap(
        &self,
        data_key: &[u8; KEY_LEN],
        object: &ObjectKey,
    ) -> Result<(String, Vec<u8>), VaultError> {
        let kek = self.kek(&self.current)?;
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.extend_from_slice(&nonce[..]);
        wrapped.extend_from_slice(data_key);
        let tag = kek
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(associated_data(&self.current, object)),
                &mut wrapped[NONCE_LEN..],
            )
            .map_err(|_| VaultError::Crypto(crate::cipher::CipherError::Seal))?;
        wrapped.extend_from_slice(tag.as_ref());
        Ok((self.current.clone(), wrapped))
    }

    /// Recovers the data key of `object` wrapped under KEK `kek_id`. Fails when the wrapped key
    /// was altered, belongs to another object, or was wrapped by a key not in this ring.
    pub fn unwrap(
        &self,
        kek_id: &str,
        wrapped: &[u8],
        object: &ObjectKey,
    ) -> Result<SecretKey, VaultError> {
        let kek = self.kek(kek_id)?;
        let refused = || VaultError::KeyUnwrap {
            kek_id: kek_id.to_owned(),
        };
        if wrapped.len() != WRAPPED_LEN {
            return Err(refused());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
        buffer.copy_from_slice(sealed);
        let plain = kek
            .open_in_place(
                nonce,
                Aad::from(associated_data(kek_id, object)),
                &mut buffer[..],
            )
            .map_err(|_| refused())?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(plain);
        Ok(key)
    }

    fn kek(&self, id: &str) -> Result<LessSafeKey, VaultError> {
        let key = self.keys.get(id).ok_or_else(|| VaultError::UnknownKek {
            kek_id: id.to_owned(),
        })?;
        UnboundKey::new(&AES_256_GCM, &key[..])
            .map(LessSafeKey::new)
            .map_err(|_| VaultError::Crypto(crate::cipher::CipherError::Key))
    }
}

/// Binds a wrapped key to its KEK id and its object, so a row's wrapped key copied onto another
/// object (or relabelled with another KEK id) does not unwrap. The id is length-prefixed so the
/// two fields cannot run into each other.
fn associated_data(kek_id: &str, object: &ObjectKey) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + kek_id.len() + object.as_str().len());
    aad.push(u8::try_from(kek_id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(kek_id.as_bytes());
    aad.extend_from_slice(object.as_str().as_bytes());
    aad
}

#[cfg(all(test, unix))]
mod tests;
