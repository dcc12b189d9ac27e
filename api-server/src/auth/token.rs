//! Login tokens: [`log_in`] turns a proof of a producer key (the PEM private key itself, or an
//! assertion signed with it, [`assertion`]) into a token and its login session (`POST /login`);
//! [`authenticate`] checks a presented token.
//!
//! A token must verify (signature, issuer, expiry) *and* name an active login session, so
//! `POST /logout` takes effect at once, and so does removing the producer key that logged in
//! (its sessions are revoked with it, `ProducerKeyRepo::remove_producer_key`). A login token
//! holds every scope and acts in the environment chosen at login.

pub mod assertion;

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use schema::repo::{ProducerKey, UniqueKey};
use schema::{Environment, LoginSession, Producer, RepoError, Scopes};
use zeroize::Zeroizing;

use super::{Credential, Principal};
use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;

/// How a login proves it holds one of the producer's keys.
pub enum Proof {
    /// The PEM private key itself (the spec's `key` part).
    Key(Zeroizing<String>),
    /// A JWT signed with the key (`auth::token::assertion`); the key never travels.
    Assertion(Zeroizing<String>),
}

/// What `POST /login` asks for.
pub struct Login {
    pub proof: Proof,
    /// The operator's email, for the audit trail. Required with [`Proof::Key`]; with an
    /// assertion, when absent the session records `assertion:{keyId}` instead.
    pub email: Option<String>,
    pub environment: Environment,
}

/// An operator logged in: the token to hand back, the producer's name and the stored session.
pub struct LoggedIn {
    pub token: String,
    pub producer_name: String,
    pub session: LoginSession,
}

/// Logs an operator in (401 when the proof names no producer key or does not verify; 403 when
/// `address`, the client's, is outside the producer's allowlist): issues a token and stores
/// the session it names, with the key that logged in and the environment chosen.
pub async fn log_in(
    context: &ApiContext,
    login: Login,
    address: Option<IpAddr>,
) -> Result<LoggedIn, ApiError> {
    let now = Utc::now();
    let (producer, key) = match &login.proof {
        Proof::Key(pem) => by_key(context, pem, address).await?,
        Proof::Assertion(jwt) => by_assertion(context, jwt, address, now).await?,
    };
    let email = (login.email).unwrap_or_else(|| format!("assertion:{}", key.id));
    let (token, claims) =
        (context.tokens.issue(producer.id.as_str(), &email, now)).map_err(ApiError::internal)?;
    let session = LoginSession {
        expires_at: claims.expires_at(),
        jti: claims.jti,
        producer_id: producer.id,
        email,
        issued_at: now,
        revoked_at: None,
        key_id: Some(key.id),
        environment: login.environment,
    };
    context.repo.insert_session(&session).await?;
    Ok(LoggedIn {
        token,
        producer_name: producer.name,
        session,
    })
}

/// The producer whose keys include the public half of the PEM private key `pem`, when
/// `address` is within its allowlist.
async fn by_key(
    context: &ApiContext,
    pem: &str,
    address: Option<IpAddr>,
) -> Result<(Producer, ProducerKey), ApiError> {
    let public_key = shared::keys::public_key_from_pem(pem).map_err(|_| {
        ApiError::Unauthenticated("the key is not an Ed25519 PKCS#8 PEM private key")
    })?;
    let (producer, key) = (context.repo.producer_by_key(&public_key).await?).ok_or(
        ApiError::Unauthenticated("the key does not belong to any producer"),
    )?;
    super::client::enforce_allowlist(context, &producer.id, address).await?;
    Ok((producer, key))
}

/// The producer and key that signed the assertion `jwt`, when `address` is within the
/// producer's allowlist; the assertion's id is then spent: a second use,
/// on any process sharing the database, is refused (the
/// allowlist is checked first, so a refused address does not burn it).
async fn by_assertion(
    context: &ApiContext,
    jwt: &str,
    address: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<(Producer, ProducerKey), ApiError> {
    let verified = assertion::verify(context, jwt, now).await?;
    super::client::enforce_allowlist(context, &verified.producer.id, address).await?;
    let spent = context
        .repo
        .use_assertion(
            &verified.producer.id,
            &verified.jti,
            verified.expires_at,
            now,
        )
        .await;
    match spent {
        Ok(()) => Ok((verified.producer, verified.key)),
        Err(RepoError::Conflict {
            what: UniqueKey::AssertionId,
        }) => Err(assertion::refused("replayed jti")),
        Err(other) => Err(other.into()),
    }
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
        environment: session.environment,
        rate: context.auth.default_rate,
        // Payload encryption is an API key's option only.
        payload_key: None,
        audit,
    })
}
