//! Viewer data and secrets at rest: the document columns that hold personal data or credentials
//! (`audience`, `challenge`, `fulfillment`, `metadata`) are stored sealed with AES-256-GCM under
//! keys the API server and the gateway load from the data directory (`record-keys.json`, see
//! `shared::record_keys`).
//!
//! Stored form (version 1): `sp1:{key id}:{base64url(nonce (12 bytes) ‖ ciphertext ‖ tag)}`.
//! The key id travels with the value so keys rotate (`sealpost records rotate-key`) while rows
//! sealed under an older key still open. The associated data binds the value to its row and
//! column (`sealpost record v1`, key id, document id, column name), so a sealed value copied
//! into another document's row, or into another column, does not open.
//!
//! A JSON value never starts with `s`, so a stored value is sealed exactly when it starts with
//! [`SEALED_PREFIX`]; anything else is a row written before encryption existed (legacy
//! plaintext), read as it is and sealed by the start-up pass ([`crate::DocumentRepo::reseal_records`]).

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sp1:";
/// Length of an AES-256 key, in bytes.
pub const RECORD_KEY_LEN: usize = 32;
/// The columns of `documents` stored sealed.
pub const SEALED_COLUMNS: [&str; 4] = ["audience", "challenge", "fulfillment", "metadata"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordKeyError {
    #[error("record key id {0:?} is not 1-32 base64url characters")]
    BadKeyId(String),
    #[error("record key {0:?} is not {RECORD_KEY_LEN} bytes")]
    BadKeyLength(String),
    #[error("the current record key {0:?} is not among the keys")]
    NoCurrentKey(String),
    #[error("sealed with record key {0:?}, which this service does not hold")]
    UnknownKey(String),
    #[error("not a sealed value")]
    Malformed,
    #[error("does not open (another row or column, or tampering)")]
    DoesNotOpen,
    #[error("the system random number generator failed")]
    Random,
}

/// One set of record keys: several AES-256-GCM keys, one current (used to seal).
pub struct RecordKeys {
    current: String,
    keys: Vec<(String, LessSafeKey)>,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("current", &self.current)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl RecordKeys {
    /// `keys` are `(id, 32 bytes)`; `current` must be one of them.
    pub fn new(current: &str, keys: &[(String, Vec<u8>)]) -> Result<Self, RecordKeyError> {
        let mut sealing = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            if !valid_id(id) {
                return Err(RecordKeyError::BadKeyId(id.clone()));
            }
            if bytes.len() != RECORD_KEY_LEN {
                return Err(RecordKeyError::BadKeyLength(id.clone()));
            }
            let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                .map_err(|_| RecordKeyError::BadKeyLength(id.clone()))?;
            sealing.push((id.clone(), LessSafeKey::new(unbound)));
        }
        if !sealing.iter().any(|(id, _)| id == current) {
            return Err(RecordKeyError::NoCurrentKey(current.to_owned()));
        }
        Ok(Self {
            current: current.to_owned(),
            keys: sealing,
        })
    }

    pub fn current_id(&self) -> &str {
        &self.current
    }

    fn key(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    /// Seals `plaintext` for `column` of document `document` under the current key.
    pub fn seal(
        &self,
        document: &str,
        column: &str,
        plaintext: &[u8],
    ) -> Result<String, RecordKeyError> {
        let key = self
            .key(&self.current)
            .ok_or_else(|| RecordKeyError::NoCurrentKey(self.current.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| RecordKeyError::Random)?;
        let mut buffer = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&self.current, document, column)),
            &mut buffer,
        )
        .map_err(|_| RecordKeyError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + buffer.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&buffer);
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            self.current,
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    /// Opens a value [`seal`](Self::seal) made for the same document and column.
    pub fn open(
        &self,
        document: &str,
        column: &str,
        stored: &str,
    ) -> Result<Vec<u8>, RecordKeyError> {
        let (id, body) = split_sealed(stored).ok_or(RecordKeyError::Malformed)?;
        let key = self
            .key(id)
            .ok_or_else(|| RecordKeyError::UnknownKey(id.to_owned()))?;
        let mut bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| RecordKeyError::Malformed)?;
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(RecordKeyError::Malformed);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let plaintext = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(id, document, column)),
                &mut bytes[NONCE_LEN..],
            )
            .map_err(|_| RecordKeyError::DoesNotOpen)?;
        Ok(plaintext.to_vec())
    }

    /// Whether `stored` is sealed under the current key (nothing to do for a rotation).
    pub fn is_current(&self, stored: &str) -> bool {
        split_sealed(stored).is_some_and(|(id, _)| id == self.current)
    }
}

/// Whether a stored value is sealed (as opposed to legacy plaintext JSON).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// `(key id, base64 body)` of a sealed value.
fn split_sealed(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(SEALED_PREFIX)?.split_once(':')
}

fn aad(key_id: &str, document: &str, column: &str) -> Vec<u8> {
    format!("sealpost record v1\n{key_id}\n{document}\n{column}").into_bytes()
}

/// Something that reloads the record keys (from their file) when a value names a key this
/// process does not hold yet: `sealpost records rotate-key` ran while the service was up.
pub type Reload = Box<dyn Fn() -> Option<RecordKeys> + Send + Sync>;

/// The record keys a repository seals and opens with, reloaded when a stored value names a key
/// added since they were loaded (a rotation by another process); the newly current key is then
/// used for every later write.
pub struct RecordCipher {
    keys: RwLock<Arc<RecordKeys>>,
    reload: Option<Reload>,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    pub fn new(keys: RecordKeys) -> Self {
        Self {
            keys: RwLock::new(Arc::new(keys)),
            reload: None,
        }
    }

    /// With a reloader, consulted when a value names an unknown key.
    pub fn with_reload(mut self, reload: Reload) -> Self {
        self.reload = Some(reload);
        self
    }

    /// The keys as now loaded.
    pub fn keys(&self) -> Arc<RecordKeys> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn seal(
        &self,
        document: &str,
        column: &str,
        plaintext: &[u8],
    ) -> Result<String, RecordKeyError> {
        self.keys().seal(document, column, plaintext)
    }

    /// Opens `stored`, reloading the keys once when it names a key not held yet.
    pub fn open(
        &self,
        document: &str,
        column: &str,
        stored: &str,
    ) -> Result<Vec<u8>, RecordKeyError> {
        match self.keys().open(document, column, stored) {
            Err(RecordKeyError::UnknownKey(id)) => {
                let Some(fresh) = self.reload.as_ref().and_then(|reload| reload()) else {
                    return Err(RecordKeyError::UnknownKey(id));
                };
                let fresh = Arc::new(fresh);
                match self.keys.write() {
                    Ok(mut keys) => *keys = fresh.clone(),
                    Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
                }
                tracing::info!(current = fresh.current_id(), "record keys reloaded");
                fresh.open(document, column, stored)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keys(current: &str, ids: &[(&str, u8)]) -> RecordKeys {
        let keys: Vec<(String, Vec<u8>)> = ids
            .iter()
            .map(|(id, byte)| ((*id).to_owned(), vec![*byte; RECORD_KEY_LEN]))
            .collect();
        RecordKeys::new(current, &keys).unwrap()
    }

    #[test]
    fn round_trip_and_binding_to_row_and_column() {
        let keys = keys("k1", &[("k1", 1)]);
        let sealed = keys.seal("docA", "audience", b"{\"x\":1}").unwrap();
        assert!(is_sealed(&sealed) && keys.is_current(&sealed));
        assert_eq!(
            keys.open("docA", "audience", &sealed).unwrap(),
            b"{\"x\":1}"
        );
        // Moved to another document's row, or another column: does not open.
        assert_eq!(
            keys.open("docB", "audience", &sealed),
            Err(RecordKeyError::DoesNotOpen)
        );
        assert_eq!(
            keys.open("docA", "metadata", &sealed),
            Err(RecordKeyError::DoesNotOpen)
        );
        // Relabelled with another key id: unknown, or does not open.
        let relabelled = sealed.replacen("sp1:k1:", "sp1:k2:", 1);
        assert_eq!(
            keys.open("docA", "audience", &relabelled),
            Err(RecordKeyError::UnknownKey("k2".into()))
        );
        let both = self::keys("k1", &[("k1", 1), ("k2", 1)]);
        assert_eq!(
            both.open("docA", "audience", &relabelled),
            Err(RecordKeyError::DoesNotOpen)
        );
        for junk in [
            "sp1:",
            "sp1:k1",
            "sp1:k1:",
            "sp1:k1:!!",
            "{}",
            "sp1:k1:AAAA",
        ] {
            assert!(keys.open("docA", "audience", junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = keys("k1", &[("k1", 1)]);
        let sealed = old.seal("d", "challenge", b"secret").unwrap();
        let new = keys("k2", &[("k1", 1), ("k2", 2)]);
        assert!(!new.is_current(&sealed));
        assert_eq!(new.open("d", "challenge", &sealed).unwrap(), b"secret");
        let resealed = new.seal("d", "challenge", b"secret").unwrap();
        assert!(resealed.starts_with("sp1:k2:"));
        assert!(old.open("d", "challenge", &resealed).is_err());
    }

    #[test]
    fn a_cipher_reloads_on_an_unknown_key() {
        let cipher = RecordCipher::new(keys("k1", &[("k1", 1)]))
            .with_reload(Box::new(|| Some(keys("k2", &[("k1", 1), ("k2", 2)]))));
        let sealed = keys("k2", &[("k2", 2)])
            .seal("d", "audience", b"v")
            .unwrap();
        assert_eq!(cipher.open("d", "audience", &sealed).unwrap(), b"v");
        assert_eq!(cipher.keys().current_id(), "k2");
    }

    #[test]
    fn refuses_bad_key_sets() {
        let short = vec![("k1".to_owned(), vec![1; 16])];
        assert!(RecordKeys::new("k1", &short).is_err());
        let ok = vec![("k1".to_owned(), vec![1; 32])];
        assert!(RecordKeys::new("k2", &ok).is_err());
        let colon = vec![("k:1".to_owned(), vec![1; 32])];
        assert!(RecordKeys::new("k:1", &colon).is_err());
    }
}
