//! Content signing (DESIGN.md, "Signed responses"): `x-sealpost-signature: keyId="…",
//! signature="…"` and `x-sealpost-signature-date`, over a body's SHA-256.
//!
//! The signature is Ed25519 by the instance key over the UTF-8 bytes of
//! `{x-sealpost-signature-date}\n{lowercase hex SHA-256 of the body}`, base64url without
//! padding. The date is an HTTP-date (IMF-fixdate). A client recomputes the body's SHA-256,
//! rebuilds that message from the date header and checks it against the key published at
//! `GET /.well-known/sealpost-keys` ([`KeySet`]).
//!
//! Signed are: every answer of the producer API, as it is sent (one middleware,
//! `api_server::signed_responses`); a document's content (signed by the API when it stores it,
//! sent with whole downloads by the vault and by `GET /documents/{docId}/document`); and the
//! `GET /logs` zip, inside it (`manifest.sig`). Only the API holds the instance key; it signs
//! through its `Signer`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{Context, SHA256};
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::keys::SigningKey;
use crate::published_keys::{KeySet, SignatureError};

pub const SIGNATURE_HEADER: &str = "x-sealpost-signature";
pub const SIGNATURE_DATE_HEADER: &str = "x-sealpost-signature-date";

/// The two header values: (`x-sealpost-signature`, `x-sealpost-signature-date`).
pub fn sign(key: &SigningKey, date: std::time::SystemTime, body_sha256: &str) -> (String, String) {
    let date = httpdate::fmt_http_date(date);
    let signature = URL_SAFE_NO_PAD.encode(key.sign(&message(&date, body_sha256)));
    (
        format!("keyId=\"{}\", signature=\"{signature}\"", key.key_id()),
        date,
    )
}

/// Checks the two header values against `keys` and the body's SHA-256 (lowercase hex).
pub fn verify(
    keys: &KeySet,
    signature_header: &str,
    date_header: &str,
    body_sha256: &str,
) -> Result<(), SignatureError> {
    let key_id = parameter(signature_header, "keyId").ok_or(SignatureError::Encoding)?;
    let signature = parameter(signature_header, "signature").ok_or(SignatureError::Encoding)?;
    keys.verify(key_id, &message(date_header, body_sha256), signature)
}

/// The lowercase hex SHA-256 of everything `reader` yields, and its length.
pub async fn sha256_of<R: AsyncRead + Unpin>(mut reader: R) -> std::io::Result<(String, u64)> {
    let mut digest = Context::new(&SHA256);
    let mut buffer = vec![0; 64 * 1024];
    let mut len = 0_u64;
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            return Ok((crate::hex::hex(digest.finish().as_ref()), len));
        }
        digest.update(&buffer[..n]);
        len += n as u64;
    }
}

fn message(date: &str, body_sha256: &str) -> Vec<u8> {
    format!("{date}\n{body_sha256}").into_bytes()
}

/// The quoted value of `name="…"` in a comma-separated parameter list.
fn parameter<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(',').find_map(|part| {
        let (key, value) = part.trim().split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn sha256_of_streams() {
        let bytes = vec![7_u8; 200_000];
        let (digest, len) = sha256_of(&bytes[..]).await.unwrap();
        assert_eq!((digest, len), (crate::hex::sha256_hex(&bytes), 200_000));
    }

    #[test]
    fn headers_round_trip() {
        let key = SigningKey::generate().unwrap();
        let keys = KeySet::of(&key);
        let digest = crate::hex::sha256_hex(b"body");
        let (signature, date) = sign(&key, std::time::SystemTime::now(), &digest);
        assert!(signature.starts_with(&format!("keyId=\"{}\", signature=\"", key.key_id())));
        assert!(date.ends_with(" GMT"), "{date}");
        assert_eq!(verify(&keys, &signature, &date, &digest), Ok(()));
        let other = crate::hex::sha256_hex(b"bodY");
        assert_eq!(
            verify(&keys, &signature, &date, &other),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&keys, &signature, "Thu, 01 Jan 1970 00:00:00 GMT", &digest),
            Err(SignatureError::Invalid)
        );
    }
}
