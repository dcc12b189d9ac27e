//! Signed-assertion login (DESIGN, "Producer credentials and environments"; RFC 7523 style):
//! instead of sending its private key, a producer sends a short-lived JWT signed with it.
//!
//! The assertion is an EdDSA JWT signed by one of the producer's keys (`producer_keys`), with
//! - `iss`: the producer's name (which picks the keys to try);
//! - `aud`: the API's public URL + `/login` (`api.public_url`, or the bound address), so an
//!   assertion made for another service, or another Sealpost, is refused;
//! - `iat` and `exp`: `exp` in the future and at most [`MAX_LIFETIME_SECS`] ahead of now,
//!   `iat` not in the future ([`CLOCK_SKEW_SECS`] allowed for the client's clock on both);
//! - `jti`: 1 to [`MAX_JTI_LEN`] printable ASCII characters, accepted once: the caller records
//!   it in `used_assertions` (shared by every process on the database) before issuing a token.
//!
//! The header's `kid`, when present, names the signing key's `keyId` and only that key is
//! tried; without it, each of the producer's keys (at most
//! [`schema::repo::MAX_KEYS_PER_PRODUCER`]) is.
//!
//! Every refusal is the same [`ASSERTION_REFUSED`]: a caller learns nothing about which check
//! failed (the reason goes to the service's log, without the assertion).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use schema::Producer;
use schema::repo::ProducerKey;
use serde::Deserialize;

use crate::context::ApiContext;
use crate::error::ApiError;

/// The latest `exp` accepted, in seconds from now (plus [`CLOCK_SKEW_SECS`]).
pub const MAX_LIFETIME_SECS: i64 = 300;
/// How far the client's clock may run ahead of the server's.
pub const CLOCK_SKEW_SECS: i64 = 30;
/// The longest `jti` accepted (it is stored until the assertion expires).
pub const MAX_JTI_LEN: usize = 128;

/// The one answer to an assertion that does not verify, has expired, lives too long, names no
/// producer, or was used before.
pub const ASSERTION_REFUSED: ApiError =
    ApiError::Unauthenticated("the assertion is invalid, expired or already used");

/// A verified assertion: who signed it, with which key, and its id until when.
pub struct Verified {
    pub producer: Producer,
    pub key: ProducerKey,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

/// The claims checked here beyond what `jsonwebtoken` validates (`exp`, `iss`, `aud`).
#[derive(Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    jti: String,
}

/// The `iss` of an assertion not verified yet: only used to find the keys to verify it with.
#[derive(Deserialize)]
struct Issuer {
    iss: String,
}

/// The audience an assertion must name: this API's public URL + `/login`.
pub fn audience(context: &ApiContext) -> String {
    format!("{}/login", context.links.api_root)
}

/// Verifies `assertion` at `now` against the keys of the producer it names (the `jti` is not
/// recorded here: the caller does, once every other check passed).
pub async fn verify(
    context: &ApiContext,
    assertion: &str,
    now: DateTime<Utc>,
) -> Result<Verified, ApiError> {
    let issuer = jsonwebtoken::dangerous::insecure_decode_claims::<Issuer>(assertion)
        .map_err(|_| refused("not a JWT with an iss"))?;
    let (producer, keys) = (context.repo.producer_with_keys(&issuer.iss).await?)
        .ok_or_else(|| refused("unknown issuer"))?;
    let kid = (jsonwebtoken::decode_header(assertion))
        .map_err(|_| refused("malformed header"))?
        .kid;
    let validation = validation(&producer.name, &audience(context));
    let (claims, key) = keys
        .into_iter()
        .filter(|key| kid.as_deref().is_none_or(|kid| kid == key.id))
        .find_map(|key| {
            let decoding = DecodingKey::from_ed_der(&key.public_key);
            jsonwebtoken::decode::<Claims>(assertion, &decoding, &validation)
                .ok()
                .map(|data| (data.claims, key))
        })
        .ok_or_else(|| refused("no key of the issuer verifies it, or a claim is wrong"))?;
    let expires_at = check_times(&claims, now)?;
    check_jti(&claims.jti)?;
    Ok(Verified {
        producer,
        key,
        jti: claims.jti,
        expires_at,
    })
}

/// EdDSA only; `exp`, `iss` and `aud` required and checked; no leeway on `exp`.
fn validation(issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = 0;
    validation
}

/// `exp` at most [`MAX_LIFETIME_SECS`] ahead, `iat` not in the future (both with
/// [`CLOCK_SKEW_SECS`]); `exp` itself was checked by `jsonwebtoken`.
fn check_times(claims: &Claims, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let now = now.timestamp();
    if claims.exp > now + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS {
        return Err(refused("exp more than 5 minutes ahead"));
    }
    if claims.exp <= now {
        return Err(refused("expired"));
    }
    if claims.iat > now + CLOCK_SKEW_SECS || claims.iat > claims.exp {
        return Err(refused("iat in the future"));
    }
    DateTime::from_timestamp(claims.exp, 0).ok_or_else(|| refused("exp out of range"))
}

fn check_jti(jti: &str) -> Result<(), ApiError> {
    let printable = jti.bytes().all(|b| b.is_ascii_graphic());
    if jti.is_empty() || jti.len() > MAX_JTI_LEN || !printable {
        return Err(refused("malformed jti"));
    }
    Ok(())
}

/// [`ASSERTION_REFUSED`], with the reason in the service's log (never the assertion).
pub fn refused(reason: &'static str) -> ApiError {
    tracing::info!(reason, "login assertion refused");
    ASSERTION_REFUSED
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            iat,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn lifetimes_are_bounded() {
        let now = Utc::now();
        let t = now.timestamp();
        assert!(check_times(&claims(t, t + 300), now).is_ok());
        assert!(check_times(&claims(t, t + 330), now).is_ok());
        assert!(check_times(&claims(t, t + 331), now).is_err());
        assert!(check_times(&claims(t, t + 600), now).is_err());
        assert!(check_times(&claims(t - 10, t), now).is_err());
        assert!(check_times(&claims(t + 31, t + 60), now).is_err());
        assert!(check_times(&claims(t + 20, t + 60), now).is_ok());
    }

    #[test]
    fn jti_shape() {
        assert!(check_jti("a1b2-c3").is_ok());
        assert!(check_jti("").is_err());
        assert!(check_jti("has space").is_err());
        assert!(check_jti(&"x".repeat(MAX_JTI_LEN + 1)).is_err());
        assert!(check_jti(&"x".repeat(MAX_JTI_LEN)).is_ok());
    }
}
