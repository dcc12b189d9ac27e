//! Ed25519 key material.
//!
//! Producers hold Ed25519 private keys as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); Sealpost
//! keeps only the 32-byte public key. The instance has a signing key of its own (login tokens,
//! later handles and signed responses), kept in a 0600 file in the data directory.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use zeroize::Zeroizing;

use crate::private_file::{self, PrivateFileError};

const PEM_TAG: &str = "PRIVATE KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM block")]
    NotPem,
    #[error("the PEM block is a {0:?}, not a PRIVATE KEY")]
    WrongPemTag(String),
    #[error("not an Ed25519 PKCS#8 private key")]
    NotEd25519,
    #[error("the system random number generator failed")]
    Random,
    #[error(transparent)]
    File(#[from] PrivateFileError),
}

/// An Ed25519 private key with its PKCS#8 encoding (kept for PEM output and JWT signing).
pub struct SigningKey {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let document =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Random)?;
        Self::from_pkcs8(document.as_ref())
    }

    /// Accepts PKCS#8 v1 (as `openssl genpkey -algorithm ed25519` writes) and v2 (with the public key).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeyError::NotEd25519)?;
        Ok(Self {
            pkcs8: Zeroizing::new(der.to_vec()),
            pair,
        })
    }

    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(text.trim()).map_err(|_| KeyError::NotPem)?;
        if block.tag() != PEM_TAG {
            return Err(KeyError::WrongPemTag(block.tag().to_owned()));
        }
        Self::from_pkcs8(block.contents())
    }

    pub fn to_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(pem::encode(&pem::Pem::new(PEM_TAG, self.pkcs8.to_vec())))
    }

    /// Loads the key at `path`, or generates one and writes it there (mode 0600) on first run.
    /// Refuses a file that group or others may read.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if let Some(bytes) = private_file::read(path)? {
            let text = Zeroizing::new(String::from_utf8(bytes).map_err(|_| KeyError::NotPem)?);
            return Self::from_pem(&text);
        }
        let key = Self::generate()?;
        private_file::write(path, key.to_pem().as_bytes())?;
        Ok(key)
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// A short public name for this key: base64url of the first 9 bytes of SHA-256(public key).
    pub fn key_id(&self) -> String {
        key_id(self.public_key())
    }
}

/// The key id of a raw Ed25519 public key (see [`SigningKey::key_id`]).
pub fn key_id(public_key: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..9])
}

/// The public key of a producer's PEM private key.
pub fn public_key_from_pem(text: &str) -> Result<Vec<u8>, KeyError> {
    Ok(SigningKey::from_pem(text)?.public_key().to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(public_key_from_pem(&pem).unwrap(), key.public_key());
    }

    #[test]
    fn accepts_openssl_v1_keys() {
        // `openssl genpkey -algorithm ed25519` (RFC 8410 §10.3 example key).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert_eq!(public_key_from_pem(pem).unwrap().len(), 32);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            public_key_from_pem("hello"),
            Err(KeyError::NotPem)
        ));
        let other = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            public_key_from_pem(other),
            Err(KeyError::WrongPemTag(_))
        ));
        let not_ed = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            public_key_from_pem(not_ed),
            Err(KeyError::NotEd25519)
        ));
    }

    #[test]
    fn load_or_create_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instance-key.pem");
        let first = SigningKey::load_or_create(&path).unwrap();
        let second = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first.public_key(), second.public_key());
    }
}
