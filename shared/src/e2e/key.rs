//! The secrets a top-secret document is sealed with, and the derivation of its segment key.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::E2eError;
use super::header::{Header, KeyKind};

/// Length of a random key.
pub const KEY_LEN: usize = 32;
/// HKDF `info` of the segment key of a key-sealed file.
const HKDF_INFO: &[u8] = b"sealpost-e2e-v1";

/// A random 256-bit key. It travels only in a link's fragment (`#k=…`), which browsers never
/// send to a server. Zeroed on drop; deliberately not `Debug`, so it cannot reach a log.
pub struct E2eKey(Zeroizing<[u8; KEY_LEN]>);

impl E2eKey {
    /// A fresh key from the operating system's generator.
    ///
    /// # Panics
    /// Never in practice: only if the operating system has no random generator, where nothing
    /// secure can be done (`ring` reports that as an error; we refuse to continue).
    pub fn random() -> Self {
        Self::try_random().expect("the operating system's random generator failed")
    }

    /// A fresh key, or [`E2eError::Random`] if the generator failed.
    pub fn try_random() -> Result<Self, E2eError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| E2eError::Random)?;
        Ok(Self(bytes))
    }

    /// A key from its bytes (test vectors, key files).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `k=` followed by the key in base64url without padding: what follows `#` in a link.
    pub fn to_fragment(&self) -> String {
        format!("k={}", URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    /// Parses `k=…` or `#k=…` (surrounding whitespace, e.g. a key file's newline, is ignored).
    pub fn from_fragment(s: &str) -> Result<Self, E2eError> {
        let s = s.trim();
        let encoded = s
            .strip_prefix('#')
            .unwrap_or(s)
            .strip_prefix("k=")
            .ok_or(E2eError::BadKey)?;
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| E2eError::BadKey)?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| E2eError::BadKey)?;
        Ok(Self::from_bytes(bytes))
    }
}

/// What a file is sealed with: a random key, or a passphrase shared out of band.
pub enum KeySource {
    Key(E2eKey),
    Passphrase(SecretString),
}

impl KeySource {
    /// A copy for a reader that outlives the caller's borrow (neither secret type is `Clone`,
    /// so a copy is never made by accident).
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Key(key) => Self::Key(E2eKey::from_bytes(*key.0)),
            Self::Passphrase(passphrase) => {
                Self::Passphrase(SecretString::from(passphrase.expose_secret()))
            }
        }
    }

    /// The header kind a writer records for this source.
    pub(crate) fn kind(&self, iterations: u32) -> KeyKind {
        match self {
            Self::Key(_) => KeyKind::Key,
            Self::Passphrase(_) => KeyKind::Passphrase { iterations },
        }
    }

    /// The AES-256-GCM segment key for the file `header` starts.
    pub(crate) fn segment_key(&self, header: &Header) -> Result<LessSafeKey, E2eError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        match (self, header.kind) {
            (Self::Key(secret), KeyKind::Key) => {
                ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &header.salt)
                    .extract(secret.0.as_ref())
                    .expand(&[HKDF_INFO], ring::hkdf::HKDF_SHA256)
                    .and_then(|okm| okm.fill(key.as_mut()))
                    .map_err(|_| E2eError::Seal)?;
            }
            (Self::Passphrase(passphrase), KeyKind::Passphrase { iterations }) => {
                let passphrase = passphrase.expose_secret();
                if passphrase.is_empty() {
                    return Err(E2eError::EmptyPassphrase);
                }
                let iterations = NonZeroU32::new(iterations).ok_or(E2eError::BadHeader)?;
                ring::pbkdf2::derive(
                    ring::pbkdf2::PBKDF2_HMAC_SHA256,
                    iterations,
                    &header.salt,
                    passphrase.as_bytes(),
                    key.as_mut(),
                );
            }
            (Self::Key(_), KeyKind::Passphrase { .. }) => return Err(E2eError::NeedsPassphrase),
            (Self::Passphrase(_), KeyKind::Key) => return Err(E2eError::NeedsKey),
        }
        UnboundKey::new(&AES_256_GCM, key.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| E2eError::Seal)
    }
}
