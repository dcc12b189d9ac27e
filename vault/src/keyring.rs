//! Key-encryption keys (KEKs), kept in a JSON file only the vault's user can read:
//! `{"current": "<id>", "keys": {"<id>": "<base64 of 32 bytes>"}}`.
//!
//! Every object's data key is wrapped under the current KEK and the wrapped key is stored in the
//! database row of its object, never beside the ciphertext. So a copy of the object store alone is
//! useless, a copy of the database alone is useless, and deleting the row crypto-shreds the object
//! even if the blob lingers in a backup. Several keys may be present with one current, so a later
//! rotation can add a key, rewrap data keys under it and retire the old one without re-encrypting
//! any content.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use schema::ObjectKey;
use zeroize::Zeroizing;

use crate::cipher::{KEY_LEN, TAG_LEN};
use crate::error::VaultError;

/// A 256-bit secret that is wiped from memory when dropped.
pub type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// Key files are a few hundred bytes; refuse to read anything absurd.
const MAX_FILE_LEN: u64 = 1 << 20;
/// Length of a wrapped data key: nonce ‖ ciphertext ‖ tag.
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// The vault's key-encryption keys, one of them current (used for new wraps).
pub struct Keyring {
    path: PathBuf,
    current: String,
    keys: BTreeMap<String, SecretKey>,
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

/// The file as read: key text lands in wiped memory (serde_json only copies it elsewhere when
/// it holds escapes, which base64 never does).
#[derive(serde::Deserialize)]
struct FileIn {
    current: String,
    keys: BTreeMap<String, SecretText>,
}

struct SecretText(Zeroizing<String>);

impl<'de> serde::Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self(Zeroizing::new(text)))
    }
}

#[derive(serde::Serialize)]
struct FileOut<'a> {
    current: &'a str,
    keys: BTreeMap<&'a str, &'a str>,
}

/// Fills a fresh buffer from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, VaultError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new().fill(&mut bytes[..]).map_err(|_| VaultError::Random)?;
    Ok(bytes)
}

/// Key ids are short random text: they name a key in rows and logs without saying anything about it.
fn random_id() -> Result<String, VaultError> {
    Ok(URL_SAFE_NO_PAD.encode(*random_bytes::<8>()?))
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
        let keyring = Self { path: path.to_owned(), current: id, keys };
        match create_file(path, &keyring.to_json()?) {
            Ok(()) => Ok(keyring),
            // Another process created it first: use theirs, never overwrite a key file.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Self::load(path),
            Err(source) => Err(VaultError::KeyFile { path: path.to_owned(), source }),
        }
    }

    /// Loads an existing keyring, refusing a file that group or others may access.
    pub fn load(path: &Path) -> Result<Self, VaultError> {
        Self::try_load(path)?.ok_or_else(|| VaultError::KeyFile {
            path: path.to_owned(),
            source: io::ErrorKind::NotFound.into(),
        })
    }

    fn try_load(path: &Path) -> Result<Option<Self>, VaultError> {
        let io_error = |source| VaultError::KeyFile { path: path.to_owned(), source };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(error)),
        };
        // Check the mode of the file actually opened, not of whatever the path names later.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = file.metadata().map_err(io_error)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(VaultError::InsecureKeyFile { path: path.to_owned(), mode: mode & 0o7777 });
            }
        }
        let mut text = Zeroizing::new(Vec::with_capacity(4096));
        file.take(MAX_FILE_LEN).read_to_end(&mut text).map_err(io_error)?;
        Self::parse(path, &text).map(Some)
    }

    fn parse(path: &Path, text: &[u8]) -> Result<Self, VaultError> {
        let malformed = |reason| VaultError::MalformedKeyFile { path: path.to_owned(), reason };
        let file: FileIn = serde_json::from_slice(text).map_err(|_| malformed("not a JSON object with `current` and `keys`"))?;
        let mut keys = BTreeMap::new();
        for (id, SecretText(encoded)) in file.keys {
            if !is_valid_id(&id) {
                return Err(malformed("a key id is not 1 to 64 characters of [A-Za-z0-9_-]"));
            }
            let decoded = Zeroizing::new(STANDARD.decode(encoded.as_bytes()).map_err(|_| malformed("a key is not base64"))?);
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            if decoded.len() != KEY_LEN {
                return Err(malformed("a key is not 32 bytes"));
            }
            key.copy_from_slice(&decoded);
            keys.insert(id, key);
        }
        if !keys.contains_key(&file.current) {
            return Err(malformed("`current` names no key in `keys`"));
        }
        Ok(Self { path: path.to_owned(), current: file.current, keys })
    }

    fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let encoded: Vec<(&str, Zeroizing<String>)> =
            self.keys.iter().map(|(id, key)| (id.as_str(), Zeroizing::new(STANDARD.encode(&key[..])))).collect();
        let file = FileOut { current: &self.current, keys: encoded.iter().map(|(id, key)| (*id, key.as_str())).collect() };
        // Sized up front so the buffer holding key text is never reallocated (and left unwiped).
        let mut out = Zeroizing::new(Vec::with_capacity(256 + 128 * self.keys.len()));
        serde_json::to_writer_pretty(&mut *out, &file).map_err(|_| VaultError::MalformedKeyFile {
            path: self.path.clone(),
            reason: "could not be serialized",
        })?;
        out.push(b'\n');
        Ok(out)
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

    /// Wraps `data_key` for `object` under the current KEK: AES-256-GCM with a random 96-bit
    /// nonce (KEKs wrap many keys, so the nonce cannot be a counter without shared state), output
    /// `nonce ‖ ciphertext ‖ tag`. Returns the KEK id to store beside it.
    pub fn wrap(&self, data_key: &[u8; KEY_LEN], object: &ObjectKey) -> Result<(String, Vec<u8>), VaultError> {
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
    pub fn unwrap(&self, kek_id: &str, wrapped: &[u8], object: &ObjectKey) -> Result<SecretKey, VaultError> {
        let kek = self.kek(kek_id)?;
        let refused = || VaultError::KeyUnwrap { kek_id: kek_id.to_owned() };
        if wrapped.len() != WRAPPED_LEN {
            return Err(refused());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
        buffer.copy_from_slice(sealed);
        let plain = kek
            .open_in_place(nonce, Aad::from(associated_data(kek_id, object)), &mut buffer[..])
            .map_err(|_| refused())?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(plain);
        Ok(key)
    }

    fn kek(&self, id: &str) -> Result<LessSafeKey, VaultError> {
        let key = self.keys.get(id).ok_or_else(|| VaultError::UnknownKek { kek_id: id.to_owned() })?;
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

/// Creates `path` with `contents`, atomically and without ever replacing an existing file: the
/// bytes go to a temporary file in the same directory (mode 0600 from the start, so they are
/// never readable by others), are fsynced, and the file is then linked into place — a rename
/// that fails with `AlreadyExists` instead of clobbering a key file someone else just wrote.
fn create_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let suffix = random_id().map_err(|_| io::Error::other("random number generator failed"))?;
    let temporary = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    linked?;
    // Make the new directory entry durable too.
    File::open(&dir)?.sync_all()
}

#[cfg(all(test, unix))]
#[path = "keyring_tests.rs"]
mod tests;
