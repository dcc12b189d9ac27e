//! The gateway's one error type: every refusal becomes a page (or, for a client that does not
//! take HTML, the same status with the same page), never a 5xx for bad input.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::pages;

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
    #[error("this challenge type is not supported yet")]
    Unsupported,
    #[error("internal failure")]
    Internal(#[source] anyhow::Error),
}

impl GatewayError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        GatewayError::Internal(error.into())
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
            GatewayError::Unsupported => StatusCode::NOT_IMPLEMENTED,
            GatewayError::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let GatewayError::Internal(error) = self {
            tracing::error!(error = %format!("{error:#}"), "gateway request failed");
        }
        let mut response = pages::respond(status, pages::problem(status), None);
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
            _ => {}
        }
        response
    }
}
