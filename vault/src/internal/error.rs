//! The internal object API's one error type.
//!
//! `status_code` is an exhaustive `match` over this type's variants; of a [`VaultError`], only
//! the caller's faults are 4xx and every other variant is the vault's own 5xx. 4xx answers are
//! problem+json; 5xx answers have a fixed body and the full chain is logged here, once.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use shared::Problem;
use shared::telemetry::error_chain;

use crate::VaultError;

#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// No `Authorization: Bearer` header, or not the service credential.
    #[error("a valid service credential is required")]
    Unauthenticated,
    /// A malformed object key: no object can have it.
    #[error("no such object")]
    NotFound,
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("the upload body must be {}", super::frames::MEDIA_TYPE)]
    UnsupportedMediaType,
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl ResponseError for InternalError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Vault(error) => match error {
                VaultError::NotFound => StatusCode::NOT_FOUND,
                VaultError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                // The caller abandoned the upload or its body broke off; nothing was kept.
                VaultError::Source(_) => StatusCode::BAD_REQUEST,
                VaultError::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
                // Everything else is the vault's own failure; listed so that a new variant
                // must choose its status here.
                VaultError::Integrity(_)
                | VaultError::Store(_)
                | VaultError::Repo(_)
                | VaultError::Crypto(_)
                | VaultError::InsecureKeyFile { .. }
                | VaultError::KeyFile { .. }
                | VaultError::MalformedKeyFile { .. }
                | VaultError::UnknownKek { .. }
                | VaultError::KeyUnwrap { .. }
                | VaultError::RotationRunning { .. }
                | VaultError::Random
                | VaultError::Task
                | VaultError::Io { .. }
                | VaultError::Remote(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), "internal object API request failed");
            return Problem::new(status, "the vault could not complete the request")
                .into_response();
        }
        let problem = Problem::new(status, self.to_string());
        let mut builder = problem.response_builder();
        if let Self::Unauthenticated = self {
            builder.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="sealpost-vault""#));
        }
        builder.json(problem)
    }
}
