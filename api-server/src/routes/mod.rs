//! Thin handlers; the module tree mirrors the URL tree.

pub mod documents;
pub mod keys;
pub mod login;
pub mod logs;
pub mod producer;
pub mod views;

use actix_web::{HttpResponse, web};
use schema::Scope;

use crate::error::ApiError;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .service(
            web::resource("/openapi.json")
                .route(web::get().to(crate::openapi::document))
                .default_service(method_not_allowed("GET")),
        )
        .configure(views::configure)
        .configure(documents::configure)
        .configure(logs::configure)
        .configure(keys::configure)
        .configure(producer::configure);
}

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: `POST /login`, the published keys, the OpenAPI document.
    Public,
    /// Any valid credential (`POST /logout`).
    Authenticated,
    /// A credential holding this scope.
    Scope(Scope),
}

/// One producer route: method, path pattern (as actix matches it) and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        method,
        path,
        access,
    }
}

use Access::{Authenticated, Public};
const READ: Access = Access::Scope(Scope::Read);
const WRITE: Access = Access::Scope(Scope::Write);
const DELIVER: Access = Access::Scope(Scope::Deliver);
const LOGS: Access = Access::Scope(Scope::Logs);
const ADMIN: Access = Access::Scope(Scope::Admin);

/// Every route of the API and what it needs (DESIGN, "Scopes"). A handler declares the same
/// scope by its `Authorized<S>` argument; `crate::auth::authorize` refuses a request whose
/// route is missing here or disagrees, and the end-to-end suite walks this list with
/// credentials that hold and lack each scope.
pub const ROUTES: &[Route] = &[
    route("POST", "/login", Public),
    route("POST", "/logout", Authenticated),
    route("GET", "/documents", READ),
    route("POST", "/documents", WRITE),
    route("GET", "/documents/{doc_id}", READ),
    route("POST", "/documents/{doc_id}", WRITE),
    route("DELETE", "/documents/{doc_id}", WRITE),
    route("GET", "/documents/{doc_id}/document", READ),
    route("PUT", "/documents/{doc_id}/document", WRITE),
    route("DELETE", "/documents/{doc_id}/document", WRITE),
    route("POST", "/documents/{doc_id}/links", WRITE),
    route("POST", "/documents/{doc_id}/deliver", DELIVER),
    route("GET", "/documents/{doc_id}/deliveries/{id}", DELIVER),
    route("DELETE", "/documents/{doc_id}/locks", WRITE),
    route("GET", "/documents/{doc_id}/views", LOGS),
    route("GET", "/documents/{doc_id}/views/{n}/receipt", LOGS),
    route("GET", "/documents/{doc_id}/{part}", READ),
    route("PUT", "/documents/{doc_id}/{part}", WRITE),
    route("DELETE", "/documents/{doc_id}/{part}", WRITE),
    route("GET", "/logs", LOGS),
    route("GET", "/logs/{doc_id}", LOGS),
    route("GET", "/.well-known/sealpost-keys", Public),
    route("GET", "/openapi.json", Public),
    route("GET", "/keys", ADMIN),
    route("POST", "/keys", ADMIN),
    route("DELETE", "/keys/{name}", ADMIN),
    route("GET", "/producer/keys", ADMIN),
    route("POST", "/producer/keys", ADMIN),
    route("DELETE", "/producer/keys/{key_id}", ADMIN),
    route("GET", "/producer/allowlist", ADMIN),
    route("PUT", "/producer/allowlist", ADMIN),
];

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
