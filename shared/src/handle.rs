//! Handles: the short-lived tokens in `{vault}/h/{handle}` links.
//!
//! A handle names the stored object, the document and its access version, the viewer, an expiry
//! and a nonce, and is signed with Ed25519 by its issuer (the gateway). The vault holds only public keys
//! ([`HandleVerifier`]), so a compromised vault cannot mint handles.
//!
//! # Format (version 2)
//! Unpadded base64url of a fixed 154-byte layout, so every handle is exactly
//! [`HANDLE_LEN`] characters and anything else is refused before any parsing:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | version (`2`) |
//! | 9 | key id: the first 9 bytes of SHA-256 of the signer's public key ([`crate::keys::key_id`]) |
//! | 16 | object key (the 128 bits behind [`ObjectKey`]) |
//! | 16 | document id |
//! | 8 | the document's access version, big-endian (see below) |
//! | 16 | viewer reference ([`ViewerRef`], opaque to the vault) |
//! | 8 | expiry, Unix seconds, big-endian |
//! | 16 | nonce (random; also the correlation id joining gateway and vault log records) |
//! | 64 | Ed25519 signature over the 90 bytes above |
//!
//! The access version is the document's `access_version` when the handle was minted: it moves
//! on every change of the document's audience or challenge, and the vault refuses a handle
//! whose version is not the document's current one, so a viewer removed from the audience (or
//! let in under a challenge since changed) cannot keep downloading with a handle issued before
//! (issue 14, finding 6). Version 1 handles (no access version) are refused as malformed.
//!
//! Hand-written rather than a JWT: a fixed binary layout has no algorithm field to confuse, no
//! JSON to parse before the signature is checked, and is less than half the length.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::signature::{ED25519, UnparsedPublicKey};
use schema::{DocumentId, ObjectKey};
use subtle::ConstantTimeEq as _;

use crate::keys::SigningKey;

/// Length of every version-2 handle, in characters.
pub const HANDLE_LEN: usize = 206;
/// The gateway's Ed25519 handle-signing key, inside the data directory (the vault is given
/// only its public half).
pub const GATEWAY_KEY_FILE: &str = "gateway-key.pem";
/// Default lifetime of a handle.
pub const DEFAULT_TTL_SECS: u64 = 300;

const VERSION: u8 = 2;
const KEY_ID_LEN: usize = 9;
const ID_LEN: usize = 16;
const SIGNED_LEN: usize = 1 + KEY_ID_LEN + 2 * ID_LEN + 8 + ID_LEN + 8 + ID_LEN;
const SIGNATURE_LEN: usize = 64;
const RAW_LEN: usize = SIGNED_LEN + SIGNATURE_LEN;

/// Who a handle was issued to, as the issuer chose to name them (e.g. a digest of the viewer's
/// audience record). The vault never interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ViewerRef(pub [u8; ID_LEN]);

/// The 128-bit nonce of a handle, shown as 22 base64url characters (the correlation id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce(pub [u8; ID_LEN]);

impl Nonce {
    pub fn random() -> Self {
        let mut bytes = [0u8; ID_LEN];
        // The system RNG failing is unrecoverable for a security product; ring's
        // `SystemRandom` only fails when the OS has no entropy source at all.
        if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
            panic!("the operating system's random number generator failed");
        }
        Self(bytes)
    }

    /// A handle's nonce minted `at`: that time in milliseconds since the Unix epoch (48 bits,
    /// big-endian), then 80 random bits. Why not all random: the gateway's audit commit
    /// indexes every issued nonce (`gateway_views`, for the auditor's report), and random keys
    /// put each row on a B-tree page of its own: ~1 page (4 KiB) written to the WAL per request.
    /// The index holds the base64url text, whose order is not the bytes' order, but nonces
    /// minted within the same few milliseconds share their first characters: one commit's
    /// nonces land on a page or two. Nothing is revealed that the handle does not already say
    /// (its expiry is `at` + TTL), and 80 random bits keep nonces minted in the same
    /// millisecond apart (and unguessable).
    pub fn time_ordered(at: DateTime<Utc>) -> Self {
        let mut nonce = Self::random();
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        nonce.0[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        nonce
    }
}

impl std::fmt::Display for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// What a handle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandleClaims {
    pub object: ObjectKey,
    pub document: DocumentId,
    /// The document's access version at minting; the vault serves only the current one.
    pub access_version: u64,
    pub viewer: ViewerRef,
    /// Whole seconds: the handle is refused from this instant on.
    pub expires_at: DateTime<Utc>,
    pub nonce: Nonce,
}

/// Why a handle was refused. Callers answer 404 for all but [`HandleError::Expired`] (410), and
/// log the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("malformed handle")]
    Malformed,
    #[error("handle signed by an unknown key")]
    UnknownKey,
    #[error("handle signature does not verify")]
    BadSignature,
    /// Correctly signed but past its expiry; the claims are given for logging.
    #[error("handle expired")]
    Expired(Box<HandleClaims>),
}

/// Mints handles (the gateway; tests call it directly).
pub struct HandleSigner {
    key: SigningKey,
    key_id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for HandleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleSigner")
            .field("key_id", &self.key.key_id())
            .finish_non_exhaustive()
    }
}

fn raw_key_id(public_key: &[u8]) -> [u8; KEY_ID_LEN] {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest.as_ref()[..KEY_ID_LEN]);
    id
}

fn id_bytes(text: &str) -> [u8; ID_LEN] {
    let mut out = [0u8; ID_LEN];
    // Typed ids are 22 base64url characters of exactly 16 bytes, by construction.
    if let Ok(bytes) = URL_SAFE_NO_PAD.decode(text)
        && bytes.len() == ID_LEN
    {
        out.copy_from_slice(&bytes);
    }
    out
}

fn id_text(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl HandleSigner {
    pub fn new(key: SigningKey) -> Self {
        let key_id = raw_key_id(key.public_key());
        Self { key, key_id }
    }

    /// The verifier for this signer's handles (what the vault is given).
    pub fn verifier(&self) -> HandleVerifier {
        HandleVerifier::new([self.key.public_key().to_vec()])
    }

    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// The handle text for `claims` (the expiry is truncated to whole seconds).
    pub fn sign(&self, claims: &HandleClaims) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&id_bytes(claims.object.as_str()));
        raw.extend_from_slice(&id_bytes(claims.document.as_str()));
        raw.extend_from_slice(&claims.access_version.to_be_bytes());
        raw.extend_from_slice(&claims.viewer.0);
        let expiry = u64::try_from(claims.expires_at.timestamp()).unwrap_or(0);
        raw.extend_from_slice(&expiry.to_be_bytes());
        raw.extend_from_slice(&claims.nonce.0);
        let signature = self.key.sign(&raw);
        raw.extend_from_slice(&signature);
        URL_SAFE_NO_PAD.encode(raw)
    }
}

/// Checks handles against a set of trusted public keys (several during a key rollover).
#[derive(Clone)]
pub struct HandleVerifier {
    keys: Vec<([u8; KEY_ID_LEN], Vec<u8>)>,
}

impl std::fmt::Debug for HandleVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.keys.iter().map(|(id, _)| id_text(id)).collect();
        f.debug_struct("HandleVerifier")
            .field("key_ids", &ids)
            .finish()
    }
}

impl HandleVerifier {
    /// Trusts the raw 32-byte Ed25519 public keys given.
    pub fn new(public_keys: impl IntoIterator<Item = Vec<u8>>) -> Self {
        let keys = public_keys
            .into_iter()
            .map(|key| (raw_key_id(&key), key))
            .collect();
        Self { keys }
    }

    /// Decodes and checks `text` at `now`: length, encoding, version, key id, signature, expiry,
    /// in that order; nothing is read from the payload before the signature verified.
    pub fn verify(&self, text: &str, now: DateTime<Utc>) -> Result<HandleClaims, HandleError> {
        if text.len() != HANDLE_LEN {
            return Err(HandleError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| HandleError::Malformed)?;
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return Err(HandleError::Malformed);
        }
        let (signed, signature) = raw.split_at(SIGNED_LEN);
        let key_id = &signed[1..1 + KEY_ID_LEN];
        // Constant-time, and every key is compared, so timing says nothing about which matched.
        let mut found = None;
        for (id, key) in &self.keys {
            if bool::from(id.ct_eq(key_id)) {
                found = Some(key);
            }
        }
        let key = found.ok_or(HandleError::UnknownKey)?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(signed, signature)
            .map_err(|_| HandleError::BadSignature)?;

        let mut at = 1 + KEY_ID_LEN;
        let mut take = |len: usize| {
            let field = &signed[at..at + len];
            at += len;
            field
        };
        let object =
            ObjectKey::parse(&id_text(take(ID_LEN))).map_err(|_| HandleError::Malformed)?;
        let document =
            DocumentId::parse(&id_text(take(ID_LEN))).map_err(|_| HandleError::Malformed)?;
        let mut access_version = [0u8; 8];
        access_version.copy_from_slice(take(8));
        let mut viewer = [0u8; ID_LEN];
        viewer.copy_from_slice(take(ID_LEN));
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(take(8));
        let mut nonce = [0u8; ID_LEN];
        nonce.copy_from_slice(take(ID_LEN));
        let expires_at = i64::try_from(u64::from_be_bytes(expiry))
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or(HandleError::Malformed)?;
        let claims = HandleClaims {
            object,
            document,
            access_version: u64::from_be_bytes(access_version),
            viewer: ViewerRef(viewer),
            expires_at,
            nonce: Nonce(nonce),
        };
        if now >= claims.expires_at {
            return Err(HandleError::Expired(Box::new(claims)));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Duration;

    use super::*;

    /// A time-ordered nonce starts with the minting millisecond, later ones sort after
    /// earlier ones, and two minted in the same millisecond still differ (80 random bits).
    #[test]
    fn time_ordered_nonces_start_with_the_minting_millisecond() {
        let before = Utc::now().timestamp_millis();
        let first = Nonce::time_ordered(Utc::now());
        let second = Nonce::time_ordered(Utc::now());
        let after = Utc::now().timestamp_millis();
        let millis = |nonce: &Nonce| {
            let mut be = [0u8; 8];
            be[2..].copy_from_slice(&nonce.0[..6]);
            i64::from_be_bytes(be)
        };
        assert!((before..=after).contains(&millis(&first)));
        assert!(millis(&first) <= millis(&second));
        assert_ne!(first.0[6..], second.0[6..], "the random part differs");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(
            Nonce::time_ordered(Utc::now()).0 > first.0,
            "a later nonce sorts after"
        );
    }

    fn claims(ttl: i64) -> HandleClaims {
        HandleClaims {
            object: ObjectKey::random(),
            document: DocumentId::random(),
            access_version: 3,
            viewer: ViewerRef([7; 16]),
            expires_at: DateTime::from_timestamp(Utc::now().timestamp() + ttl, 0).unwrap(),
            nonce: Nonce::random(),
        }
    }

    fn signer() -> HandleSigner {
        HandleSigner::new(SigningKey::generate().unwrap())
    }

    #[test]
    fn round_trip() {
        let signer = signer();
        let claims = claims(300);
        let handle = signer.sign(&claims);
        assert_eq!(handle.len(), HANDLE_LEN);
        assert_eq!(signer.verifier().verify(&handle, Utc::now()), Ok(claims));
    }

    #[test]
    fn expired_is_told_apart() {
        let signer = signer();
        let claims = claims(10);
        let handle = signer.sign(&claims);
        let later = Utc::now() + Duration::seconds(11);
        assert_eq!(
            signer.verifier().verify(&handle, later),
            Err(HandleError::Expired(Box::new(claims)))
        );
    }

    #[test]
    fn another_key_is_unknown() {
        let handle = signer().sign(&claims(300));
        assert_eq!(
            signer().verifier().verify(&handle, Utc::now()),
            Err(HandleError::UnknownKey)
        );
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let signer = signer();
        let verifier = signer.verifier();
        let raw = URL_SAFE_NO_PAD.decode(signer.sign(&claims(300))).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut flipped = raw.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let result = verifier.verify(&URL_SAFE_NO_PAD.encode(&flipped), Utc::now());
            assert!(result.is_err(), "bit {bit} accepted");
        }
    }

    #[test]
    fn junk_is_malformed() {
        let verifier = signer().verifier();
        for junk in [
            "",
            "x",
            &"A".repeat(HANDLE_LEN),
            &"!".repeat(HANDLE_LEN),
            &"A".repeat(5000),
        ] {
            let result = verifier.verify(junk, Utc::now());
            assert!(
                matches!(
                    result,
                    Err(HandleError::Malformed | HandleError::UnknownKey)
                ),
                "{junk:?}: {result:?}"
            );
        }
    }
}
