//! `manifest.json` and `manifest.sig`; the published key set they are checked against is
//! [`crate::published_keys`] (re-exported here).
//!
//! The signature is over the exact bytes of `manifest.json` as stored in the zip, never over a
//! re-serialisation, so a verifier in any language needs no canonical JSON: read the entry,
//! check the signature, then parse it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keys::SigningKey;

pub use crate::published_keys::{ED25519, KeySet, PublishedKey, SignatureError};

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
}
