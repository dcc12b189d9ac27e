//! HTTP Digest access authentication, server side (RFC 7616), `qop="auth"` only.
//!
//! - SHA-256 is offered first and MD5 second (older clients); SHA-512-256 and `auth-int` are
//!   not offered.
//! - Nonces carry their own issue time and are authenticated with an HMAC key of the gateway,
//!   bound to the document request they were issued for: any gateway holding the key checks
//!   them without a shared nonce table. An expired nonce is answered with `stale=true` so the
//!   browser retries without asking the viewer again.
//! - Replayed `nc` values are refused by the caller, which records `(nonce, nc)` pairs in the
//!   database every gateway shares (see [`Credentials::counter_use`] and `super::replay`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use md5::Digest as _;
use ring::hmac;
use subtle::ConstantTimeEq as _;

use super::auth_params;
use schema::repo::NONCE_HASH_LEN;

/// Longest `Authorization` header value accepted.
const MAX_HEADER: usize = 4096;
const STAMP_LEN: usize = 8;
const SALT_LEN: usize = 8;
const MAC_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Md5,
}

impl Algorithm {
    pub const OFFERED: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "SHA-256" => Some(Algorithm::Sha256),
            "MD5" => Some(Algorithm::Md5),
            _ => None,
        }
    }

    /// Lowercase hex digest of `text`.
    fn hex(self, text: &str) -> String {
        match self {
            Algorithm::Sha256 => shared::hex::sha256_hex(text.as_bytes()),
            Algorithm::Md5 => shared::hex::hex(&md5::Md5::digest(text.as_bytes())),
        }
    }
}

/// The gateway's nonce key: mints and checks self-validating nonces.
pub struct NonceKey {
    key: hmac::Key,
    ttl_secs: i64,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKey")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

/// What a presented nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceState {
    Valid,
    /// Authentic but too old: answer a fresh challenge with `stale=true`.
    Stale,
    Invalid,
}

impl NonceKey {
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            ttl_secs,
        }
    }

    fn mac(&self, stamp_and_salt: &[u8], scope: &str) -> [u8; MAC_LEN] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(stamp_and_salt);
        context.update(scope.as_bytes());
        let tag = context.sign();
        let mut mac = [0u8; MAC_LEN];
        mac.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        mac
    }

    /// A fresh nonce for the document request named by `scope`.
    pub fn issue(&self, now: DateTime<Utc>, scope: &str, salt: [u8; SALT_LEN]) -> String {
        let mut raw = Vec::with_capacity(STAMP_LEN + SALT_LEN + MAC_LEN);
        raw.extend_from_slice(&now.timestamp().to_be_bytes());
        raw.extend_from_slice(&salt);
        let mac = self.mac(&raw, scope);
        raw.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn check(&self, nonce: &str, now: DateTime<Utc>, scope: &str) -> NonceState {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return NonceState::Invalid;
        };
        if raw.len() != STAMP_LEN + SALT_LEN + MAC_LEN {
            return NonceState::Invalid;
        }
        let (body, mac) = raw.split_at(STAMP_LEN + SALT_LEN);
        if !bool::from(self.mac(body, scope).ct_eq(mac)) {
            return NonceState::Invalid;
        }
        let mut stamp = [0u8; STAMP_LEN];
        stamp.copy_from_slice(&body[..STAMP_LEN]);
        let age = now.timestamp().saturating_sub(i64::from_be_bytes(stamp));
        if !(0..=self.ttl_secs).contains(&age) {
            return NonceState::Stale;
        }
        NonceState::Valid
    }
}

/// `WWW-Authenticate` values, one per offered algorithm, SHA-256 first.
pub fn challenges(realm: &str, nonce: &str, opaque: &str, stale: bool) -> Vec<String> {
    Algorithm::OFFERED
        .iter()
        .map(|algorithm| {
            format!(
                "Digest realm=\"{}\", qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{opaque}\", charset=UTF-8{}",
                quote(realm),
                algorithm.name(),
                if stale { ", stale=true" } else { "" }
            )
        })
        .collect()
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The credentials a client sent with `Authorization: Digest …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub cnonce: String,
    pub nc: String,
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses the part after `Digest `. `None` when malformed, missing a field, or asking for
    /// anything but `qop=auth` with an offered algorithm (`userhash` is not offered).
    pub fn parse(params: &str) -> Option<Self> {
        let params = auth_params::parse(params, MAX_HEADER)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if get("qop")? != "auth" || get("userhash").is_some_and(|u| u != "false") {
            return None;
        }
        let nc = get("nc")?;
        if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?.to_ascii_lowercase(),
            algorithm: get("algorithm")
                .map_or(Some(Algorithm::Md5), |a| Algorithm::from_name(&a))?,
            cnonce: get("cnonce")?,
            nc,
            opaque: get("opaque"),
        })
    }

    /// The response a client knowing `password` computes for `method` (RFC 7616 §3.4.1).
    pub fn expected_response(&self, method: &str, password: &str) -> String {
        let a = self.algorithm;
        let ha1 = a.hex(&format!("{}:{}:{password}", self.username, self.realm));
        let ha2 = a.hex(&format!("{method}:{}", self.uri));
        a.hex(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc, self.cnonce
        ))
    }

    /// Whether the response proves knowledge of `password` (constant-time comparison).
    pub fn proves(&self, method: &str, password: &str) -> bool {
        let expected = self.expected_response(method, password);
        shared::secret_eq::ct_eq_digest(expected.as_bytes(), self.response.as_bytes())
    }

    /// What must be recorded once to refuse a replay of this exact request counter.
    pub fn counter_use(&self) -> CounterUse {
        let sha = ring::digest::digest(&ring::digest::SHA256, self.nonce.as_bytes());
        let mut nonce_hash = [0u8; NONCE_HASH_LEN];
        nonce_hash.copy_from_slice(&sha.as_ref()[..NONCE_HASH_LEN]);
        CounterUse {
            nonce_hash,
            // `parse` checked eight hex digits, so this never falls back.
            nc: u32::from_str_radix(&self.nc, 16).unwrap_or(u32::MAX),
        }
    }
}

/// One request counter of one nonce: recorded once, so the same `(nonce, nc)` sent again (to
/// any gateway) is a replay. The nonce is kept as a digest: it is not secret, but the row stays
/// small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterUse {
    pub nonce_hash: [u8; NONCE_HASH_LEN],
    pub nc: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 7616 §3.9.1, with the published responses for MD5 and SHA-256. (The RFC's erratum
    /// 4897 concerns an intermediate MD5 value printed in the text; the final response values
    /// below are the correct ones.)
    fn rfc_credentials(algorithm: &str, response: &str) -> Credentials {
        Credentials::parse(&format!(
            "username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        ))
        .unwrap()
    }

    #[test]
    fn rfc7616_md5_vector() {
        let c = rfc_credentials("MD5", "8ca523f5e9506fed4657c9700eebdbec");
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert!(c.proves("GET", "Circle of Life"));
        assert!(!c.proves("GET", "Circle of life"));
        assert!(!c.proves("POST", "Circle of Life"));
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let c = rfc_credentials(
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        );
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert!(c.proves("GET", "Circle of Life"));
        assert!(!c.proves("GET", "Circle of Life "));
    }

    #[test]
    fn nonces_validate_expire_and_bind_to_scope() {
        let key = NonceKey::new(b"0123456789abcdef0123456789abcdef", 300);
        let now = Utc::now();
        let nonce = key.issue(now, "placeholder-1", [7; 8]);
        assert_eq!(key.check(&nonce, now, "placeholder-1"), NonceState::Valid);
        assert_eq!(
            key.check(
                &nonce,
                now + chrono::Duration::seconds(301),
                "placeholder-1"
            ),
            NonceState::Stale
        );
        assert_eq!(key.check(&nonce, now, "placeholder-2"), NonceState::Invalid);
        let other = NonceKey::new(b"another key, another gateway....", 300);
        assert_eq!(
            other.check(&nonce, now, "placeholder-1"),
            NonceState::Invalid
        );
        assert_eq!(
            key.check("junk!", now, "placeholder-1"),
            NonceState::Invalid
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[3] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(
            key.check(&tampered, now, "placeholder-1"),
            NonceState::Invalid
        );
    }

    #[test]
    fn only_qop_auth_and_offered_algorithms() {
        let base = "username=\"u\", realm=\"r\", uri=\"/\", nonce=\"n\", nc=00000001, cnonce=\"c\", response=\"x\"";
        assert!(Credentials::parse(&format!("{base}, qop=auth")).is_some());
        assert!(Credentials::parse(&format!("{base}, qop=auth-int")).is_none());
        assert!(Credentials::parse(base).is_none());
        assert!(Credentials::parse(&format!("{base}, qop=auth, algorithm=SHA-512-256")).is_none());
        assert!(Credentials::parse(&format!("{base}, qop=auth, userhash=true")).is_none());
    }

    #[test]
    fn challenge_offers_sha256_first() {
        let headers = challenges("Sealpost \"docs\"", "N", "O", true);
        assert!(headers[0].contains("algorithm=SHA-256"));
        assert!(headers[1].contains("algorithm=MD5"));
        assert!(headers[0].contains(r#"realm="Sealpost \"docs\"""#));
        assert!(headers[0].ends_with("stale=true"));
    }

    #[test]
    fn a_counter_use_names_the_nonce_and_the_counter_in_any_case() {
        let c = rfc_credentials("MD5", "8ca523f5e9506fed4657c9700eebdbec");
        let used = c.counter_use();
        assert_eq!(used.nc, 1);
        let upper = Credentials {
            nc: "0000000A".into(),
            ..c.clone()
        };
        let lower = Credentials {
            nc: "0000000a".into(),
            ..c.clone()
        };
        assert_eq!(upper.counter_use(), lower.counter_use());
        assert_eq!(upper.counter_use().nc, 10);
        let other = Credentials {
            nonce: "another".into(),
            ..c
        };
        assert_ne!(other.counter_use().nonce_hash, used.nonce_hash);
    }
}
