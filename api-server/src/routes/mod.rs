//! Thin handlers; the module tree mirrors the URL tree.

pub mod documents;
pub mod login;
pub mod logs;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .configure(documents::configure)
        .configure(logs::configure);
}

/// Malformed query strings answer 400 problem+json, like every other client error.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        ApiError::BadRequest {
            field: None,
            detail: format!("malformed query string: {error}"),
        }
        .into()
    })
}

/// 405 with `Allow` for a method a resource does not support.
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) })
}

/// Every unknown path: 404 problem+json.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
