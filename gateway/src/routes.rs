//! The gateway's URL space: `/l/{sealed}` (sealed links) and `/{placeholderId}` (document
//! requests). Anything else is 404; a known path with another method is 405 (a document
//! request takes GET only, sealed links GET and HEAD).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::GatewayService;
use crate::error::GatewayError;
use crate::pages;
use crate::request::document_request;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/l/{sealed}")
                .route(web::get().to(sealed_link))
                .route(web::head().to(sealed_link))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            // The top-secret page's script (pages::top_secret).
            web::resource(crate::pages::top_secret::SCRIPT_PATH)
                .route(web::get().to(crate::pages::top_secret::script))
                .route(web::head().to(crate::pages::top_secret::script))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/oauth/callback")
                .route(web::get().to(crate::oauth::callback))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            // GET only: a HEAD would mint a handle (or test a password) for nobody to read.
            web::resource("/{placeholder}")
                .route(web::get().to(document_request))
                .default_service(web::to(get_only)),
        );
}

/// Opens a seal and redirects to the document request it names (the spec's "Document Access
/// UX": the server decodes the link and redirects the browser to the document request). Junk
/// and tampered seals are 404, like unknown placeholders.
async fn sealed_link(
    sealed: web::Path<String>,
    service: web::Data<GatewayService>,
) -> Result<HttpResponse, GatewayError> {
    let link = service.seals.open(&sealed).ok_or(GatewayError::NotFound)?;
    let mut location = format!("/{}", link.placeholder);
    if !link.viewer_token.is_empty() {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&link.viewer_token)
            .finish();
        location.push('?');
        location.push_str(&query);
    }
    Ok(pages::see_other(location).finish())
}

async fn method_not_allowed() -> HttpResponse {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    let mut response = pages::respond(status, pages::problem(status), None);
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    response
}

/// 405 with `Allow: GET`, for the document request's other methods (HEAD included).
async fn get_only() -> Result<HttpResponse, GatewayError> {
    Err(GatewayError::GetOnly)
}

pub async fn not_found() -> HttpResponse {
    let status = StatusCode::NOT_FOUND;
    pages::respond(status, pages::problem(status), None)
}
