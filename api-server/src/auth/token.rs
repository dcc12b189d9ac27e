//! Login tokens: [`log_in`] turns a producer's private key into a token and its login session
//! (`POST /login`); [`authenticate`] checks a presented token.
//!
//! A token must verify (signature, issuer, expiry) *and* name an active login session, so
//! `POST /logout` takes effect at once. A login token holds every scope.

use std::net::IpAddr;

use chrono::Utc;
use schema::{Environment, LoginSession, Scopes};

use super::{Credential, Principal};
use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;

/// An operator logged in: the token to hand back, the producer's name and the stored session.
pub struct LoggedIn {
    pub token: String,
    pub producer_name: String,
    pub session: LoginSession,
}

/// Logs an operator in with the producer's PEM private `key` (401 when it is not an Ed25519
/// key, or no producer's; 403 when `address`, the client's, is outside the producer's
/// allowlist): issues a token and stores the session it names. `email` is the operator's,
/// kept for auditing.
pub async fn log_in(
    context: &ApiContext,
    key: &str,
    email: String,
    address: Option<IpAddr>,
) -> Result<LoggedIn, ApiError> {
    let public_key = shared::keys::public_key_from_pem(key).map_err(|_| {
        ApiError::Unauthenticated("the key is not an Ed25519 PKCS#8 PEM private key")
    })?;
    let producer = (context.repo.producer_by_public_key(&public_key).await?).ok_or(
        ApiError::Unauthenticated("the key does not belong to any producer"),
    )?;
    super::client::enforce_allowlist(context, &producer.id, address).await?;
    let now = Utc::now();
    let (token, claims) =
        (context.tokens.issue(producer.id.as_str(), &email, now)).map_err(ApiError::internal)?;
    let session = LoginSession {
        expires_at: claims.expires_at(),
        jti: claims.jti,
        producer_id: producer.id,
        email,
        issued_at: now,
        revoked_at: None,
        key_id: None,
        environment: Environment::Live,
    };
    context.repo.insert_session(&session).await?;
    Ok(LoggedIn {
        token,
        producer_name: producer.name,
        session,
    })
}

/// The one refusal of a token that does not verify, has expired, or names no active session:
/// a client holding a token learns nothing about which (issue 14, finding 9).
const TOKEN_REFUSED: ApiError =
    ApiError::Unauthenticated("the token is invalid, expired or revoked");

pub(super) async fn authenticate(
    context: &ApiContext,
    token: &str,
    audit: Recorder,
) -> Result<Principal, ApiError> {
    let claims = context.tokens.verify(token).map_err(|_| TOKEN_REFUSED)?;
    let session = context
        .repo
        .active_session(&claims.jti, Utc::now())
        .await?
        .ok_or(TOKEN_REFUSED)?;
    if session.producer_id.as_str() != claims.sub {
        return Err(TOKEN_REFUSED);
    }
    Ok(Principal {
        producer: session.producer_id,
        operator: session.email,
        credential: Credential::Token { jti: session.jti },
        scopes: Scopes::ALL,
        environment: Environment::Live,
        rate: context.auth.default_rate,
        audit,
    })
}
