//! Authentication: [`log_in`] turns a producer's private key into a token and its login
//! session (`POST /login`); one extractor yields the [`Principal`] a handler passes down.
//!
//! The spec's form is `Authorization: Basic base64(token)`; `Bearer token` is accepted too.
//! A token must verify (signature, issuer, expiry) *and* name an active login session, so
//! `POST /logout` takes effect at once.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use schema::{LoginSession, ProducerId};

use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Who is calling: the producer (tenant) and the operator who logged in.
#[derive(Debug, Clone)]
pub struct Principal {
    pub producer: ProducerId,
    /// The operator's email given at login, kept for auditing.
    pub operator: String,
    /// The login token's id, for logout.
    pub token_id: String,
    /// The request's access-log facts: handlers note the document the request names here.
    pub audit: Recorder,
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut actix_web::dev::Payload) -> Self::Future {
        let context = req.app_data::<web::Data<ApiContext>>().cloned();
        let token = bearer_or_basic_token(req);
        let audit = Recorder::of(req);
        Box::pin(async move {
            let context = context.ok_or_else(|| ApiError::internal("API context missing"))?;
            let principal = authenticate(&context, &token?, audit).await?;
            principal
                .audit
                .authenticated(&principal.producer, &principal.operator);
            Ok(principal)
        })
    }
}

fn bearer_or_basic_token(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "an Authorization header is required",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("the Authorization header is not text"))?;
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(credentials.to_owned())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(credentials)
            .map_err(|_| ApiError::Unauthenticated("Basic credentials must be base64(token)"))?;
        String::from_utf8(decoded)
            .map_err(|_| ApiError::Unauthenticated("Basic credentials must be base64(token)"))
    } else {
        Err(ApiError::Unauthenticated(
            "use Basic base64(token) or Bearer token",
        ))
    }
}

/// An operator logged in: the token to hand back, the producer's name and the stored session.
pub struct LoggedIn {
    pub token: String,
    pub producer_name: String,
    pub session: LoginSession,
}

/// Logs an operator in with the producer's PEM private `key` (401 when it is not an Ed25519
/// key, or no producer's): issues a token and stores the session it names. `email` is the
/// operator's, kept for auditing.
pub async fn log_in(context: &ApiContext, key: &str, email: String) -> Result<LoggedIn, ApiError> {
    let public_key = shared::keys::public_key_from_pem(key).map_err(|_| {
        ApiError::Unauthenticated("the key is not an Ed25519 PKCS#8 PEM private key")
    })?;
    let producer = (context.repo.producer_by_public_key(&public_key).await?).ok_or(
        ApiError::Unauthenticated("the key does not belong to any producer"),
    )?;
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

async fn authenticate(
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
        token_id: session.jti,
        audit,
    })
}
