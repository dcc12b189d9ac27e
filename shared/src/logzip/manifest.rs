//! `manifest.json`, `manifest.sig` and the published key set they are checked against.
//!
//! The signature is over the exact bytes of `manifest.json` as stored in the zip, never over a
//! re-serialisation, so a verifier in any language needs no canonical JSON: read the entry,
//! check the signature, then parse it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keys::SigningKey;

/// The only signature algorithm.
pub const ED25519: &str = "Ed25519";

/// What an export holds and where it came from. Times are RFC 3339 UTC with milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`super::FORMAT`].
    pub format: String,
    /// The producer whose lines these are (the logs' `publisher-id`).
    pub producer_id: String,
    /// The one document exported, or `null` for all of the producer's lines.
    pub doc_id: Option<String>,
    /// The first instant included, or `null` for "from the beginning".
    pub from: Option<String>,
    /// The last instant included (the request time when no end was given).
    pub to: String,
    pub generated_at: String,
    /// The id of the key that signed `manifest.json` (also in `manifest.sig`).
    pub key_id: String,
    /// One per log: api, gateway, vault.
    pub logs: Vec<LogSummary>,
}

/// One log of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogSummary {
    /// `api`, `gateway` or `vault`.
    pub log: String,
    /// The lines: `api.log`, …
    pub file: String,
    /// Lowercase hex SHA-256 of `file`'s bytes.
    pub sha256: String,
    /// The chain values: `api.chain`, …
    pub chain_file: String,
    /// Lowercase hex SHA-256 of `chain_file`'s bytes.
    pub chain_sha256: String,
    /// Lines in `file` (and in `chain_file`).
    pub records: u64,
    /// The `prev` of the first line: 64 zeros when the export starts at the producer's first
    /// line; `null` when there is no line.
    pub first_prev: Option<String>,
    /// The `chain` of the last line (the head of the exported chain); `null` when there is no line.
    pub head: Option<String>,
}

/// `manifest.sig`: who signed `manifest.json`, and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestSignature {
    pub key_id: String,
    /// [`ED25519`].
    pub alg: String,
    /// base64url (no padding) of the 64-byte Ed25519 signature over `manifest.json`'s bytes.
    pub signature: String,
}

impl ManifestSignature {
    /// Signs `manifest` (the exact bytes stored as `manifest.json`).
    pub fn sign(key: &SigningKey, manifest: &[u8]) -> Self {
        Self {
            key_id: key.key_id(),
            alg: ED25519.to_owned(),
            signature: URL_SAFE_NO_PAD.encode(key.sign(manifest)),
        }
    }
}

/// The instance's public keys, as `GET /.well-known/sealpost-keys` publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<PublishedKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    pub key_id: String,
    /// [`ED25519`].
    pub alg: String,
    /// base64url (no padding) of the raw 32-byte public key.
    pub public_key: String,
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signed by key {0:?}, which is not among the keys given")]
    UnknownKey(String),
    #[error("the algorithm {0:?} is not Ed25519")]
    Algorithm(String),
    #[error("the key's id does not match its public key")]
    KeyIdMismatch,
    #[error("the signature is not base64url")]
    Encoding,
    #[error("the signature does not verify")]
    Invalid,
}

impl KeySet {
    /// The set holding `key`'s public half.
    pub fn of(key: &SigningKey) -> Self {
        Self {
            keys: vec![PublishedKey {
                key_id: key.key_id(),
                alg: ED25519.to_owned(),
                public_key: URL_SAFE_NO_PAD.encode(key.public_key()),
            }],
        }
    }

    /// Checks that key `key_id` of this set signed `message` (`signature` in base64url). The
    /// key id is recomputed from the public key, so a key set cannot relabel a key.
    pub fn verify(
        &self,
        key_id: &str,
        message: &[u8],
        signature: &str,
    ) -> Result<(), SignatureError> {
        let key = self
            .keys
            .iter()
            .find(|key| key.key_id == key_id)
            .ok_or_else(|| SignatureError::UnknownKey(key_id.to_owned()))?;
        if key.alg != ED25519 {
            return Err(SignatureError::Algorithm(key.alg.clone()));
        }
        let public = URL_SAFE_NO_PAD
            .decode(&key.public_key)
            .map_err(|_| SignatureError::Encoding)?;
        if crate::keys::key_id(&public) != key_id {
            return Err(SignatureError::KeyIdMismatch);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignatureError::Encoding)?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
            .verify(message, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_bytes_and_key() {
        let key = SigningKey::generate().unwrap();
        let keys = KeySet::of(&key);
        let sig = ManifestSignature::sign(&key, b"{\"a\": 1}\n");
        assert_eq!(
            keys.verify(&sig.key_id, b"{\"a\": 1}\n", &sig.signature),
            Ok(())
        );
        assert_eq!(
            keys.verify(&sig.key_id, b"{\"a\": 2}\n", &sig.signature),
            Err(SignatureError::Invalid)
        );
        let other = KeySet::of(&SigningKey::generate().unwrap());
        assert!(matches!(
            other.verify(&sig.key_id, b"{\"a\": 1}\n", &sig.signature),
            Err(SignatureError::UnknownKey(_))
        ));
        let mut relabelled = other.clone();
        relabelled.keys[0].key_id = sig.key_id.clone();
        assert_eq!(
            relabelled.verify(&sig.key_id, b"{\"a\": 1}\n", &sig.signature),
            Err(SignatureError::KeyIdMismatch)
        );
    }

    #[test]
    fn key_set_json_shape() {
        let key = SigningKey::generate().unwrap();
        let json = serde_json::to_value(KeySet::of(&key)).unwrap();
        assert_eq!(json["keys"][0]["alg"], "Ed25519");
        assert_eq!(json["keys"][0]["keyId"], key.key_id());
        let public = json["keys"][0]["publicKey"].as_str().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(public).unwrap(), key.public_key());
    }
}
