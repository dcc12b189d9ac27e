//! The API server's one error type.
//!
//! `status_code` is an exhaustive `match`: a new variant must choose its status. 4xx answers are
//! RFC 9457 problem+json naming the field at fault; 5xx answers have a fixed body and the full
//! error chain is logged here, once.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use shared::Problem;
use shared::telemetry::error_chain;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No, a malformed, an expired or a revoked credential.
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// A valid credential without the route's scope, or from an address outside the
    /// producer's allowlist: the detail says which.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Over the credential's rate limit (429 with `Retry-After` and the `RateLimit` headers).
    #[error("too many requests: retry after {} s", .0.retry_after_secs)]
    RateLimited(crate::auth::rate::RateLimited),
    /// Unknown, malformed or another producer's id: all look the same.
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    #[error("{field}: {detail}")]
    Invalid { field: String, detail: String },
    #[error("{field} is larger than {limit} bytes")]
    TooLarge { field: String, limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request contradicts the stored state (spec footnotes 4 and 5, `DELETE …/document`).
    #[error("{0}")]
    Conflict(String),
    /// The document expired: refused at once, before the sweep destroys it.
    #[error("{0}")]
    Gone(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn bad_request(field: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn internal(error: impl Into<BoxError>) -> Self {
        Self::Internal(error.into())
    }
}

/// Every variant is listed, so a new one must choose its status here instead of silently
/// becoming a 500.
impl From<schema::RepoError> for ApiError {
    fn from(error: schema::RepoError) -> Self {
        use schema::RepoError as R;
        match error {
            // A unique key already taken: the request contradicts what is stored.
            R::Conflict { what } => Self::Conflict(format!("{what} is already taken")),
            R::Corrupt(_)
            | R::UnsupportedUrl(_)
            | R::Database(_)
            | R::Migrate(_)
            | R::RecordKeys(_) => Self::internal(error),
        }
    }
}

impl From<vault::VaultError> for ApiError {
    fn from(error: vault::VaultError) -> Self {
        use vault::VaultError as V;
        match error {
            V::NotFound => Self::NotFound,
            V::TooLarge { limit } => Self::TooLarge {
                field: "document".into(),
                limit,
            },
            V::Source(source) => Self::bad_request(
                "document",
                format!("the document upload was interrupted: {source}"),
            ),
            V::Repo(error) => error.into(),
            // The vault's own failures: listed so that a new variant must choose its status.
            V::Integrity(_)
            | V::InvalidRange { .. }
            | V::Store(_)
            | V::Crypto(_)
            | V::InsecureKeyFile { .. }
            | V::KeyFile { .. }
            | V::MalformedKeyFile { .. }
            | V::UnknownKek { .. }
            | V::KeyUnwrap { .. }
            | V::RotationRunning { .. }
            | V::Random
            | V::Task
            | V::Io { .. }
            | V::Remote(_) => Self::internal(error),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), "request failed");
            return Problem::new(status, "the server could not complete the request")
                .into_response();
        }
        let mut problem = Problem::new(status, self.to_string());
        match self {
            Self::BadRequest {
                field: Some(field), ..
            }
            | Self::Invalid { field, .. }
            | Self::TooLarge { field, .. } => {
                problem = problem.with_field(field.clone());
            }
            _ => {}
        }
        let mut builder = problem.response_builder();
        match self {
            Self::Unauthenticated(_) => {
                builder.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Basic realm="sealpost", charset="UTF-8", Bearer realm="sealpost""#,
                ));
            }
            Self::MethodNotAllowed { allow } => {
                builder.insert_header((header::ALLOW, *allow));
            }
            Self::RateLimited(limited) => {
                builder
                    .insert_header((header::RETRY_AFTER, limited.retry_after_secs))
                    .insert_header(("RateLimit-Policy", limited.policy.as_str()))
                    .insert_header(("RateLimit", limited.state.as_str()));
            }
            _ => {}
        }
        builder.json(problem)
    }
}

#[cfg(test)]
mod tests {
    use schema::RepoError;
    use schema::repo::UniqueKey;

    use super::*;

    #[test]
    fn a_taken_unique_key_is_a_409_problem() {
        let error = ApiError::from(RepoError::Conflict {
            what: UniqueKey::ProducerName,
        });
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE),
            Some(&header::HeaderValue::from_static(
                "application/problem+json"
            ))
        );
        assert_eq!(error.to_string(), "the producer name is already taken");
    }

    #[test]
    fn other_repository_failures_stay_500() {
        let error = ApiError::from(RepoError::Corrupt("documents.audience".into()));
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let error = ApiError::from(vault::VaultError::Repo(RepoError::Conflict {
            what: UniqueKey::ObjectKey,
        }));
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
    }
}
