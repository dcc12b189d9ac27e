//! The instance's public keys, as `GET /.well-known/sealpost-keys` publishes them: what a
//! client checks signed content ([`crate::content_signature`]) and a saved log export
//! ([`crate::logzip`]) against, offline if it kept them.
//!
//! Each key is named by its id, which is derived from the public key itself
//! ([`crate::keys::key_id`]), so [`KeySet::verify`] recomputes it: a key set cannot relabel a
//! key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::keys::SigningKey;

/// The only signature algorithm.
pub const ED25519: &str = "Ed25519";

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
    fn key_set_json_shape() {
        let key = SigningKey::generate().unwrap();
        let json = serde_json::to_value(KeySet::of(&key)).unwrap();
        assert_eq!(json["keys"][0]["alg"], "Ed25519");
        assert_eq!(json["keys"][0]["keyId"], key.key_id());
        let public = json["keys"][0]["publicKey"].as_str().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(public).unwrap(), key.public_key());
    }
}
