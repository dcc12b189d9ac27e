//! The gateway's one error type: every refusal becomes a page (or, for a client that does not
//! take HTML, the same status with the same page), never a 5xx for bad input.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use schema::RepoError;
use shared::telemetry::error_chain;

use crate::audience::AudienceError;
use crate::pages;

/// How an OAuth sign-in ended without a session; each has its own page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFailure {
    /// No, an expired, a foreign or an already used `state` (400).
    Expired,
    /// The viewer declined at the provider (403).
    Denied,
    /// The provider refused the code, or its answer did not verify (403).
    Refused,
    /// The signed-in identity is not the viewer the link was for (403).
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Unknown, replaced, expired or deleted placeholder, or a junk or tampered seal: nothing
    /// is learned about which placeholders exist.
    #[error("no such document request")]
    NotFound,
    #[error("the viewer token names no single member of the audience")]
    NotAMember,
    #[error("credentials needed")]
    Challenge { www_authenticate: Vec<String> },
    #[error("digest credentials for another request URI")]
    BadRequest,
    #[error("too many failed challenges")]
    Locked { retry_after_secs: i64 },
    /// `HEAD` on a document request: answering it would mint a handle (or compare a password)
    /// for a method meant to be safe, so only `GET` is allowed.
    #[error("only GET mints a handle")]
    GetOnly,
    #[error("the OAuth provider could not be used")]
    ProviderUnavailable,
    #[error("OAuth sign-in refused: {0:?}")]
    SignIn(SignInFailure),
    /// The database failed: the viewer may try again (503).
    #[error("the database failed")]
    Repo(#[from] RepoError),
    /// A stored audience or challenge does not parse: the row is not what the API wrote (503,
    /// like the database failing; the cause is logged).
    #[error("the stored {what} does not parse")]
    CorruptRecord { what: &'static str },
}

/// Every variant is listed, so a new one must choose its answer here.
impl From<AudienceError> for GatewayError {
    fn from(error: AudienceError) -> Self {
        match error {
            // The document changed or vanished between the two reads: as for a missing one.
            AudienceError::Changed => GatewayError::NotFound,
            AudienceError::Repo(error) => GatewayError::Repo(error),
            AudienceError::Corrupt => GatewayError::CorruptRecord { what: "audience" },
        }
    }
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        match self {
            GatewayError::NotFound => StatusCode::NOT_FOUND,
            GatewayError::NotAMember => StatusCode::FORBIDDEN,
            GatewayError::Challenge { .. } => StatusCode::UNAUTHORIZED,
            GatewayError::BadRequest => StatusCode::BAD_REQUEST,
            GatewayError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::GetOnly => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::ProviderUnavailable => StatusCode::BAD_GATEWAY,
            GatewayError::SignIn(SignInFailure::Expired) => StatusCode::BAD_REQUEST,
            GatewayError::SignIn(_) => StatusCode::FORBIDDEN,
            GatewayError::Repo(_) | GatewayError::CorruptRecord { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let GatewayError::Repo(_) | GatewayError::CorruptRecord { .. } = self {
            tracing::error!(error = %error_chain(self), "gateway request failed");
        }
        let page = match self {
            GatewayError::SignIn(failure) => pages::sign_in_problem(*failure),
            _ => pages::problem(status),
        };
        let mut response = pages::respond(status, page, None);
        let headers = response.headers_mut();
        match self {
            GatewayError::Challenge { www_authenticate } => {
                for value in www_authenticate {
                    if let Ok(value) = HeaderValue::from_str(value) {
                        headers.append(header::WWW_AUTHENTICATE, value);
                    }
                }
            }
            GatewayError::Locked { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            GatewayError::GetOnly => {
                headers.insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            _ => {}
        }
        response
    }
}
