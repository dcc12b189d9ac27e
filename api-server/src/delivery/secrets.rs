//! Delivery secrets: the deliver request's form fields (the spec puts the fulfillment's
//! authentication tokens there) and its SMTP URL (with credentials). The spec forbids keeping
//! them in the document record; a delivery must still hold them until its last retry, so they
//! are stored sealed with AES-256-GCM and the row's copy is wiped when the delivery ends.
//!
//! The key is derived (HKDF-SHA256) from the instance's first signing key, which every API
//! server of an instance already loads (`instance-key.pem`, or after a rotation the oldest key
//! of `instance-key.previous.pem`: `crate::signing_keys`), so all servers sharing a queue open
//! each other's jobs, queued jobs survive a rotation, and no new key file needs distributing. The delivery id is the associated data: a sealed
//! blob copied onto another delivery does not open.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// What a delivery keeps secret until it ends.
#[derive(Default, Serialize, Deserialize)]
pub struct DeliverySecrets {
    /// The deliver request's form fields, in order (`smtp_url` excepted).
    pub form: Vec<(String, String)>,
    /// The SMTP server, when the request named one.
    pub smtp_url: Option<String>,
}

impl Drop for DeliverySecrets {
    fn drop(&mut self) {
        for (name, value) in &mut self.form {
            name.zeroize();
            value.zeroize();
        }
        self.smtp_url.zeroize();
    }
}

impl std::fmt::Debug for DeliverySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverySecrets")
            .field("form_fields", &self.form.len())
            .finish_non_exhaustive()
    }
}

/// The key that seals delivery secrets.
pub struct SecretsKey(LessSafeKey);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("delivery secrets could not be sealed")]
    Seal,
    #[error("delivery secrets do not open (another instance key, or tampering)")]
    Open,
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl SecretsKey {
    /// Derives the key from the instance key's PKCS#8 bytes.
    pub fn derive(instance_key_pkcs8: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"sealpost delivery secrets");
        let mut bytes = Zeroizing::new([0u8; 32]);
        // Expanding 32 bytes from HKDF-SHA256 cannot fail (the limit is 255 × 32).
        if let Ok(okm) = salt.extract(instance_key_pkcs8).expand(&[b"v1"], KeyLen) {
            let _ = okm.fill(&mut bytes[..]);
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes[..]);
        // A 32-byte key is always valid for AES-256-GCM.
        #[expect(clippy::expect_used, reason = "a 32-byte key is a valid AES-256 key")]
        Self(LessSafeKey::new(unbound.expect("AES-256 key")))
    }

    /// `nonce ‖ ciphertext ‖ tag` of `secrets`, bound to `delivery_id`.
    pub fn seal(
        &self,
        delivery_id: &str,
        secrets: &DeliverySecrets,
    ) -> Result<Vec<u8>, SecretsError> {
        self.seal_value(delivery_id, secrets)
    }

    /// The secrets `sealed` holds for `delivery_id`.
    pub fn open(&self, delivery_id: &str, sealed: &[u8]) -> Result<DeliverySecrets, SecretsError> {
        self.open_value(delivery_id, sealed)
    }

    /// `nonce ‖ ciphertext ‖ tag` of `value`'s JSON, bound to `aad` (test deliveries' captured
    /// messages are sealed with this too, under an `aad` of their own).
    pub fn seal_value<T: Serialize>(&self, aad: &str, value: &T) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretsError::Seal)?;
        let mut payload =
            Zeroizing::new(serde_json::to_vec(value).map_err(|_| SecretsError::Seal)?);
        let mut out = nonce.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut *payload,
            )
            .map_err(|_| SecretsError::Seal)?;
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// The value `sealed` holds, bound to `aad`.
    pub fn open_value<T: serde::de::DeserializeOwned>(
        &self,
        aad: &str,
        sealed: &[u8],
    ) -> Result<T, SecretsError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretsError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Open)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buffer)
            .map_err(|_| SecretsError::Open)?;
        serde_json::from_slice(plain).map_err(|_| SecretsError::Open)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_bound_to_the_delivery() {
        let key = SecretsKey::derive(b"instance key bytes");
        let secrets = DeliverySecrets {
            form: vec![("api_token".into(), "s3cr3t".into())],
            smtp_url: Some("smtp://u:p@127.0.0.1:2525".into()),
        };
        let sealed = key.seal("d1", &secrets).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        let opened = key.open("d1", &sealed).unwrap();
        assert_eq!(opened.form, secrets.form);
        assert_eq!(opened.smtp_url, secrets.smtp_url);
        assert!(key.open("d2", &sealed).is_err());
        assert!(SecretsKey::derive(b"another").open("d1", &sealed).is_err());
        assert!(key.open("d1", &sealed[..5]).is_err());
    }
}
