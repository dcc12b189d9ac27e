//! `GET /documents`: browse (low-security instances only).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use shared::config::SecurityMode;

use crate::auth::{Authorized, Read};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::openapi::schemas::DocumentList;

#[derive(Deserialize)]
pub struct Paging {
    limit: Option<u32>,
    after: Option<String>,
}

/// Lists the caller's documents, `{docId: name}` each, in id order (`limit`, `after` page
/// through them). A high-security instance does not browse: 405 with `Allow: POST` and an
/// empty body, as the spec says.
#[utoipa::path(
    get,
    path = "/documents",
    operation_id = "listDocuments",
    tag = "documents",
    params(
        ("limit" = Option<u32>, Query, description = "At most this many"),
        ("after" = Option<String>, Query, description = "Start after this document id"),
    ),
    responses(
        (status = 200, description = "The documents", body = DocumentList),
        (status = 400, description = "A malformed query string"),
        (status = 405, description = "A high-security instance does not browse (`Allow: POST`, empty body)"),
    ),
)]
pub async fn list(
    context: web::Data<ApiContext>,
    principal: Authorized<Read>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    if context.security == SecurityMode::High {
        // The spec's answer exactly: "Response: empty, code 405, Allow: POST" (signed, as
        // every answer, over the empty body).
        return Ok(HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .finish());
    }
    let documents =
        documents::list(&context, &principal, paging.after.as_deref(), paging.limit).await?;
    let documents: Vec<_> = documents
        .into_iter()
        .map(|(id, name)| json!({ id.as_str(): name }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json; charset=utf-8"))
        .body(json!({"msg": "list of retrieved documents", "documents": documents}).to_string()))
}
