//! Sealed links: `{gateway}/l/{sealed}` (the spec's "cryptographically encoded link").
//!
//! A seal holds a placeholder id and the viewer-token values of one viewer, encrypted and
//! authenticated with AES-256-GCM under a gateway key, so no personal data stands in an emailed
//! link and no one can forge or alter one. Keys live in a 0600 JSON file
//! (`{"current": "<id>", "keys": {"<id>": "<base64url of 32 bytes>"}}`); the key id travels in
//! the seal so keys can rotate while older links keep opening.
//!
//! Format (version 1), unpadded base64url of: version `1` ‖ key id (6 bytes) ‖ nonce (12 bytes)
//! ‖ AES-256-GCM(payload, AAD = version ‖ key id) where the payload is the JSON
//! `{"p": placeholderId, "v": [[name, value], …]}`. Opening never panics on any input; every
//! failure is the same `None`.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::private_file::{self, PrivateFileError};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 6;
const KEY_LEN: usize = 32;
/// Longest seal text accepted before decoding (a seal of a few fields is ~150 characters).
pub const MAX_SEALED_LEN: usize = 4096;
/// The seal key file, inside the data directory. The API server seals with it
/// (`POST /documents/{docId}/links`) and the gateway opens with it, so both load this one file.
pub const SEAL_KEYS_FILE: &str = "seal-keys.json";

/// What a sealed link names: a document request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedLink {
    /// The placeholder id.
    #[serde(rename = "p")]
    pub placeholder: String,
    /// The viewer-token fields and their values, in the template's order.
    #[serde(rename = "v")]
    pub viewer_token: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("seal key file: {0}")]
    File(#[from] PrivateFileError),
    #[error("seal key file is not valid: {0}")]
    Invalid(&'static str),
    #[error("the system random number generator failed")]
    Random,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    current: String,
    keys: BTreeMap<String, String>,
}

/// The gateway's seal keys, one current (used to seal).
pub struct SealKeys {
    current: [u8; KEY_ID_LEN],
    keys: Vec<([u8; KEY_ID_LEN], LessSafeKey)>,
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKeys")
            .field("current", &URL_SAFE_NO_PAD.encode(self.current))
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, SealError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| SealError::Random)?;
    Ok(bytes)
}

impl SealKeys {
    /// Loads the key file at `path`, or creates it with one fresh key.
    ///
    /// Creation never replaces a file: the API server and the gateway may start at once on an
    /// empty data directory, and two different keys would leave every link the one seals
    /// unopenable by the other. The new file is written aside, then hard-linked into place,
    /// which fails if the name exists; the loser loads the winner's file.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        if let Some(keys) = Self::load(path)? {
            return Ok(keys);
        }
        let id = URL_SAFE_NO_PAD.encode(*random::<KEY_ID_LEN>()?);
        let key = URL_SAFE_NO_PAD.encode(*random::<KEY_LEN>()?);
        let file = KeyFile {
            current: id.clone(),
            keys: BTreeMap::from([(id, key)]),
        };
        let text = Zeroizing::new(
            serde_json::to_vec(&file).map_err(|_| SealError::Invalid("unserialisable"))?,
        );
        private_file::create_once(path, &text)?;
        Self::load(path)?.ok_or(SealError::Invalid("the new key file vanished"))
    }

    fn load(path: &Path) -> Result<Option<Self>, SealError> {
        let Some(bytes) = private_file::read(path)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        let file: KeyFile =
            serde_json::from_slice(&bytes).map_err(|_| SealError::Invalid("not JSON"))?;
        Self::from_file(&file).map(Some)
    }

    fn from_file(file: &KeyFile) -> Result<Self, SealError> {
        let decode_id = |id: &str| -> Result<[u8; KEY_ID_LEN], SealError> {
            URL_SAFE_NO_PAD
                .decode(id)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(SealError::Invalid("bad key id"))
        };
        let mut keys = Vec::new();
        for (id, secret) in &file.keys {
            let secret = Zeroizing::new(
                URL_SAFE_NO_PAD
                    .decode(secret)
                    .map_err(|_| SealError::Invalid("bad key"))?,
            );
            let unbound = UnboundKey::new(&AES_256_GCM, &secret)
                .map_err(|_| SealError::Invalid("bad key length"))?;
            keys.push((decode_id(id)?, LessSafeKey::new(unbound)));
        }
        let current = decode_id(&file.current)?;
        if !keys.iter().any(|(id, _)| *id == current) {
            return Err(SealError::Invalid("current key missing"));
        }
        Ok(Self { current, keys })
    }

    fn key(&self, id: &[u8]) -> Option<&LessSafeKey> {
        self.keys
            .iter()
            .find(|(candidate, _)| candidate == id)
            .map(|(_, key)| key)
    }

    /// The seal text for `link`.
    pub fn seal(&self, link: &SealedLink) -> Result<String, SealError> {
        let key = self
            .key(&self.current)
            .ok_or(SealError::Invalid("current key missing"))?;
        let nonce = *random::<NONCE_LEN>()?;
        let mut header = vec![VERSION];
        header.extend_from_slice(&self.current);
        let mut payload =
            serde_json::to_vec(link).map_err(|_| SealError::Invalid("unserialisable"))?;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&header),
            &mut payload,
        )
        .map_err(|_| SealError::Invalid("sealing failed"))?;
        let mut out = header;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&payload);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The link a seal names; `None` for junk, tampering or an unknown key.
    pub fn open(&self, text: &str) -> Option<SealedLink> {
        if text.len() > MAX_SEALED_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let header_len = 1 + KEY_ID_LEN;
        if raw.len() < header_len + NONCE_LEN || raw[0] != VERSION {
            return None;
        }
        let (header, rest) = raw.split_at(header_len);
        let key = self.key(&header[1..])?;
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(header), &mut sealed)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn link() -> SealedLink {
        SealedLink {
            placeholder: "k3J9x0aQ1bC2dE3fG4hI5j".into(),
            viewer_token: vec![
                ("telephone".into(), "+1 555 0100".into()),
                ("first_name".into(), "Zoë".into()),
            ],
        }
    }

    #[test]
    fn seal_open_round_trip_and_key_file_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seal-keys.json");
        let keys = SealKeys::load_or_create(&path).unwrap();
        let sealed = keys.seal(&link()).unwrap();
        // No plaintext in the link, in its text or its bytes (long needles: never by chance).
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for needle in ["+1 555 0100", "first_name", "k3J9x0aQ1bC2dE3fG4hI5j"] {
            assert!(!sealed.contains(needle), "{needle} in the link text");
            assert!(
                !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in the sealed bytes"
            );
        }
        assert_eq!(keys.open(&sealed), Some(link()));
        let reloaded = SealKeys::load_or_create(&path).unwrap();
        assert_eq!(reloaded.open(&sealed), Some(link()));
        // Two seals of the same link differ (random nonce).
        assert_ne!(keys.seal(&link()).unwrap(), sealed);
    }

    #[test]
    fn concurrent_creators_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEAL_KEYS_FILE);
        let all: Vec<SealKeys> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| SealKeys::load_or_create(&path).unwrap()))
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let sealed = all[0].seal(&link()).unwrap();
        for keys in &all {
            assert_eq!(keys.open(&sealed), Some(link()));
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no staging file is left behind");
    }

    #[test]
    fn tampering_and_junk_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = SealKeys::load_or_create(&dir.path().join("k.json")).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(keys.seal(&link()).unwrap()).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut flipped = raw.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                keys.open(&URL_SAFE_NO_PAD.encode(&flipped)),
                None,
                "bit {bit}"
            );
        }
        for junk in [
            "",
            "x",
            "!!!!",
            &"A".repeat(10_000),
            &URL_SAFE_NO_PAD.encode([1u8; 7]),
        ] {
            assert_eq!(keys.open(junk), None);
        }
        let other = SealKeys::load_or_create(&dir.path().join("other.json")).unwrap();
        assert_eq!(other.open(&URL_SAFE_NO_PAD.encode(&raw)), None);
    }
}
