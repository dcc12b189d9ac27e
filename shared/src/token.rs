//! Login tokens.
//!
//! A token is a JWT (EdDSA, signed with the instance key) naming the producer, the operator's
//! email and a random id (`jti`). The id is recorded as a login session so `POST /logout` can
//! revoke it at once; the signature alone only proves the token was issued here.

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::keys::SigningKey;

const ISSUER: &str = "sealpost";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The producer id.
    pub sub: String,
    pub jti: String,
    pub email: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.exp, 0).single().unwrap_or_default()
    }

    pub fn issued_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.iat, 0).single().unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token")]
pub struct TokenError(#[source] jsonwebtoken::errors::Error);

pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    key_id: String,
    ttl: Duration,
}

impl TokenIssuer {
    pub fn new(key: &SigningKey, ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_ed_der(key.pkcs8_der()),
            decoding: DecodingKey::from_ed_der(key.public_key()),
            key_id: key.key_id(),
            ttl,
        }
    }

    /// Issues a token for `producer` with a fresh random id.
    pub fn issue(
        &self,
        producer: &str,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Claims), TokenError> {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: producer.to_owned(),
            jti: schema::ids::ObjectKey::random().to_string(),
            email: email.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp().saturating_add(ttl),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(TokenError)?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm, issuer and expiry (no leeway: a token is dead at `exp`).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(TokenError)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn issuer(ttl: u64) -> TokenIssuer {
        TokenIssuer::new(&SigningKey::generate().unwrap(), Duration::from_secs(ttl))
    }

    #[test]
    fn issued_tokens_verify() {
        let issuer = issuer(3600);
        let (token, claims) = issuer.issue("p1", "op@example.com", Utc::now()).unwrap();
        assert_eq!(issuer.verify(&token).unwrap(), claims);
    }

    #[test]
    fn other_keys_and_tampering_fail() {
        let (token, _) = issuer(3600)
            .issue("p1", "op@example.com", Utc::now())
            .unwrap();
        assert!(issuer(3600).verify(&token).is_err());
        let issuer = issuer(3600);
        let (token, _) = issuer.issue("p1", "op@example.com", Utc::now()).unwrap();
        let mut bytes = token.into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        assert!(issuer.verify(&String::from_utf8(bytes).unwrap()).is_err());
    }

    #[test]
    fn expired_tokens_fail() {
        let issuer = issuer(10);
        let (token, _) = issuer
            .issue(
                "p1",
                "op@example.com",
                Utc::now() - chrono::Duration::seconds(11),
            )
            .unwrap();
        assert!(issuer.verify(&token).is_err());
    }
}
