//! Checking an OpenID Connect ID token (Core §3.1.3.7): signature against the provider's JWKS,
//! `iss`, `aud`, `exp`, and the `nonce` the gateway sent.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::provider::{OpenId, ProviderError, Providers};

/// Asymmetric algorithms only: `none` and HMAC (keyed with the client secret) are refused.
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Why an ID token was refused (logged; the viewer sees one page for all).
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the token response has no ID token")]
    Missing,
    #[error("the ID token's header is malformed or names an algorithm not accepted")]
    Header,
    #[error("no key of the provider matches the ID token")]
    UnknownKey,
    #[error("the ID token does not verify: {0:?}")]
    Invalid(jsonwebtoken::errors::ErrorKind),
    #[error("the ID token's nonce is not the one sent")]
    Nonce,
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

#[derive(Deserialize)]
struct Claims {
    nonce: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The verified claims of `token`.
pub async fn verify(
    providers: &Providers,
    openid: &OpenId,
    client_id: &str,
    nonce: &str,
    token: Option<&str>,
) -> Result<Map<String, Value>, IdTokenError> {
    let token = token.ok_or(IdTokenError::Missing)?;
    let header = decode_header(token).map_err(|_| IdTokenError::Header)?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Header);
    }
    let mut keys = providers.keys(&openid.jwks_uri, false).await?;
    let find = |keys: &jsonwebtoken::jwk::JwkSet| match &header.kid {
        Some(kid) => keys.find(kid).cloned(),
        None if keys.keys.len() == 1 => keys.keys.first().cloned(),
        None => None,
    };
    let jwk = match find(&keys) {
        Some(jwk) => jwk,
        None => {
            keys = providers.keys(&openid.jwks_uri, true).await?;
            find(&keys).ok_or(IdTokenError::UnknownKey)?
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| IdTokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[openid.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 30;
    let data = decode::<Claims>(token, &key, &validation)
        .map_err(|error| IdTokenError::Invalid(error.into_kind()))?;
    let sent = data.claims.nonce.unwrap_or_default();
    if !shared::secret_eq::ct_eq_digest(sent.as_bytes(), nonce.as_bytes()) {
        return Err(IdTokenError::Nonce);
    }
    Ok(data.claims.rest)
}
