//! The API's content signer: the instance key (`{data_dir}/instance-key.pem`) as
//! [`shared::content_signature`] uses it. The API is the only service holding that key, so it
//! signs what others send too: a document's content is signed when it is stored, and the vault
//! sends that signature with whole downloads (`documents/signed.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use shared::content_signature;
use shared::keys::SigningKey;
use shared::published_keys::KeySet;

/// Signs bodies with the instance key; cheap to clone.
#[derive(Clone)]
pub struct Signer {
    key: Arc<SigningKey>,
    published: Arc<KeySet>,
}

impl Signer {
    pub fn new(key: Arc<SigningKey>) -> Self {
        Self::with_retired(key, &[])
    }

    /// A signer that signs with `key` only but also publishes `retired` (newest first), the
    /// keys earlier rotations replaced (`crate::signing_keys`), so what they signed still
    /// verifies.
    pub fn with_retired(key: Arc<SigningKey>, retired: &[SigningKey]) -> Self {
        let mut published = KeySet::of(&key);
        for old in retired {
            published.keys.extend(KeySet::of(old).keys);
        }
        Self {
            key,
            published: Arc::new(published),
        }
    }

    /// The public keys that verify what this signer signs and what earlier keys signed, as
    /// `GET /.well-known/sealpost-keys` publishes them: the current key first.
    pub fn keys(&self) -> KeySet {
        KeySet::clone(&self.published)
    }

    /// The signed-response headers (`x-sealpost-signature`, `x-sealpost-signature-date`) for a
    /// body held whole (a JSON record).
    pub fn sign_body(&self, body: &[u8]) -> (String, String) {
        self.sign_digest(&shared::hex::sha256_hex(body))
    }

    /// The same headers for a body known by its SHA-256 (lowercase hex), signed now.
    pub fn sign_digest(&self, body_sha256: &str) -> (String, String) {
        content_signature::sign(&self.key, SystemTime::now(), body_sha256)
    }

    /// The key itself, for what signs with it in another format (an export's `manifest.sig`).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }
}
