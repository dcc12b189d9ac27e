//! Thin handlers; the module tree mirrors the URL tree.

pub mod documents;
pub mod login;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .configure(documents::configure);
}

/// Every unknown path: 404 problem+json.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
