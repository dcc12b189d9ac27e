//! [`ViewError`]: every way a viewer's request can fail, its status, its problem+json body and
//! its access-log code.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use schema::RepoError;
use shared::Problem;
use shared::handle::HandleError;

use crate::error::VaultError;
use shared::telemetry::error_chain;

/// Why a request to the handle endpoint (or a junk path) was not served.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Malformed, forged, unknown-key handles and unknown paths: all look alike from outside.
    #[error("no such handle ({reason})")]
    NoSuchHandle { reason: &'static str },
    #[error("the handle has expired")]
    ExpiredHandle,
    /// The handle verified, but its document (or the document's object) is gone.
    #[error("the document no longer exists")]
    NoSuchDocument,
    /// The document's content was replaced since the handle was issued.
    #[error("the handle names replaced content")]
    ContentReplaced,
    /// The document's audience or challenge changed since the handle was issued: the viewer
    /// it was minted for may no longer be let in, so it must go through the gateway again.
    /// Answered exactly like replaced content; told apart in the logs only.
    #[error("the handle predates a change of the document's audience or challenge")]
    AccessChanged,
    #[error("the document has expired")]
    DocumentExpired,
    #[error("range not satisfiable for {size} bytes")]
    InvalidRange { size: u64 },
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The stored object failed authentication before any byte was sent.
    #[error("the stored object failed its integrity check")]
    Integrity(#[source] VaultError),
    #[error("the database is unavailable")]
    Unavailable(#[source] RepoError),
    #[error("reading the object failed")]
    Internal(#[source] VaultError),
}

impl ViewError {
    /// The S3-style code in the access log's `error-code` column.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchHandle { .. } => "NoSuchHandle",
            Self::ExpiredHandle => "ExpiredHandle",
            Self::NoSuchDocument => "NoSuchKey",
            Self::ContentReplaced | Self::DocumentExpired => "ContentGone",
            Self::AccessChanged => "AccessChanged",
            Self::InvalidRange { .. } => "InvalidRange",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::Integrity(_) => "IntegrityError",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Internal(_) => "InternalError",
        }
    }

    fn detail(&self) -> &'static str {
        match self {
            Self::NoSuchHandle { .. } | Self::NoSuchDocument => "no such handle",
            Self::ExpiredHandle => "this link has expired; open the document again for a new one",
            Self::ContentReplaced | Self::AccessChanged => {
                "the document has changed; open it again for the new version"
            }
            Self::DocumentExpired => "the document has expired",
            Self::InvalidRange { .. } => "the requested range lies outside the document",
            Self::MethodNotAllowed => "only GET and HEAD are allowed here",
            Self::Integrity(_) | Self::Internal(_) => "internal error",
            Self::Unavailable(_) => "service unavailable",
        }
    }
}

impl From<HandleError> for ViewError {
    fn from(error: HandleError) -> Self {
        match error {
            HandleError::Expired(_) => Self::ExpiredHandle,
            HandleError::Malformed => Self::NoSuchHandle {
                reason: "malformed",
            },
            HandleError::UnknownKey => Self::NoSuchHandle {
                reason: "unknown key",
            },
            HandleError::BadSignature => Self::NoSuchHandle {
                reason: "bad signature",
            },
        }
    }
}

impl From<VaultError> for ViewError {
    fn from(error: VaultError) -> Self {
        match error {
            // The row went between the document lookup and the read: deleted or replaced.
            VaultError::NotFound => Self::NoSuchDocument,
            VaultError::InvalidRange { size } => Self::InvalidRange { size },
            VaultError::Integrity(_) => Self::Integrity(error),
            VaultError::Repo(error) => Self::Unavailable(error),
            // Every other variant is the vault's own failure; listed so that a new variant
            // must choose its answer here.
            VaultError::TooLarge { .. }
            | VaultError::Source(_)
            | VaultError::Store(_)
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
            | VaultError::Remote(_) => Self::Internal(error),
        }
    }
}

impl ResponseError for ViewError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NoSuchHandle { .. } | Self::NoSuchDocument => StatusCode::NOT_FOUND,
            Self::ExpiredHandle
            | Self::ContentReplaced
            | Self::AccessChanged
            | Self::DocumentExpired => StatusCode::GONE,
            Self::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Integrity(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Problem+json with a fixed detail per variant (5xx details never carry the cause); the
    /// cause chain is logged here, once.
    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %error_chain(self), "vault request failed");
        } else {
            tracing::info!(code = self.code(), reason = %self, "vault request refused");
        }
        let problem = Problem::new(status, self.detail());
        let mut response = problem.response_builder();
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"));
        match self {
            Self::MethodNotAllowed => {
                response.insert_header((header::ALLOW, "GET, HEAD"));
            }
            Self::InvalidRange { size } => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            _ => {}
        }
        response.json(problem)
    }
}
