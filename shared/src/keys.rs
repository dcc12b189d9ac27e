//! Ed25519 key material.
//!
//! Producers hold Ed25519 private keys as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); Sealpost
//! keeps only the 32-byte public key. The instance has a signing key of its own (login tokens,
//! later handles and signed responses), kept in a 0600 file in the data directory.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
///
/// Signing goes through AWS-LC (`aws-lc-rs`, ring's API): every API answer is signed, and its
/// Ed25519 signs in ~7 µs here against ~20 µs for `ring` (`examples/sign_cost.rs`).
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
    /// A new random key, encoded as PKCS#8 v1 (RFC 8410's form, what `openssl genpkey` writes):
    /// OpenSSL, Node's `crypto` and Python's `cryptography` refuse `ring`'s v2 form, so a
    /// producer could not use a key `sealpost` handed out in it.
    pub fn generate() -> Result<Self, KeyError> {
        let document =
            Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).map_err(|_| KeyError::Random)?;
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

    /// A PKCS#8 v1 Ed25519 private key up to its 32-byte seed (RFC 8410 §7 and the example of
    /// §10.3): `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING
    /// (32) } }`, what `openssl genpkey -algorithm ed25519` writes.
    const PKCS8_V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    /// The start of the PKCS#8 v2 document `ring` generates, up to the seed (version 1, the public
    /// key after the seed).
    const RING_V2_PREFIX: [u8; 16] = [
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    #[test]
    fn pem_round_trip() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(public_key_from_pem(&pem).unwrap(), key.public_key());
    }

    #[test]
    fn generated_keys_are_pkcs8_v1_and_v2_keys_still_load() {
        let key = SigningKey::generate().unwrap();
        assert_eq!(key.pkcs8_der().len(), 48);
        assert!(key.pkcs8_der().starts_with(&PKCS8_V1_PREFIX));
        let again = SigningKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(again.sign(b"m"), key.sign(b"m"));
        // Keys written before (ring's v2 form, 83 bytes) keep loading, with the same public key.
        let v2 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap();
        assert!(v2.as_ref().starts_with(&RING_V2_PREFIX));
        let old = SigningKey::from_pkcs8(v2.as_ref()).unwrap();
        assert_eq!(old.pkcs8_der().len(), 83);
        let ring_pair = ring::signature::Ed25519KeyPair::from_pkcs8(v2.as_ref()).unwrap();
        use ring::signature::KeyPair as _;
        assert_eq!(old.public_key(), ring_pair.public_key().as_ref());
        // Signatures made here verify with ring, as every verifier of ours uses it.
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, old.public_key())
            .verify(b"m", &old.sign(b"m"))
            .unwrap();
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
