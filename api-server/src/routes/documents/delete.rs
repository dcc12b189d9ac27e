//! `DELETE /documents/{docId}{?lastModified}`, `…/document` (409) and `…/{part}`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::unmodified_since;
use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents::{self, Outcome};
use crate::error::ApiError;
use crate::openapi::schemas::Part;

/// Deletes the record and its content (spec, "Delete"). With `?lastModified=` (an HTTP-date),
/// nothing is deleted when the record changed since (304).
#[utoipa::path(
    delete,
    path = "/documents/{doc_id}",
    operation_id = "deleteDocument",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id"), ("lastModified" = Option<String>, Query, description = "An HTTP-date")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 304, description = "Changed since `lastModified`: not deleted"),
        (status = 400, description = "`lastModified` is not an HTTP-date"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn delete(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let since = unmodified_since(&request)?;
    match documents::delete(&context, &principal, &path, since).await? {
        Outcome::Done(()) => Ok(HttpResponse::NoContent().finish()),
        Outcome::NotModified => Ok(HttpResponse::NotModified().finish()),
    }
}

/// Deleting only the content is not allowed: the whole record must be deleted (spec): 409
/// with an empty body, as the spec says (404/410 for an unknown or expired document first).
#[utoipa::path(
    delete,
    path = "/documents/{doc_id}/document",
    operation_id = "deleteContent",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    responses(
        (status = 409, description = "Always (empty body): DELETE the document instead"),
        (status = 404, description = "No such document"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn content(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    documents::find(&context, &principal, &path).await?;
    // The spec's answer exactly: "Response: empty, code 409" (signed over the empty body).
    Ok(HttpResponse::Conflict().finish())
}

/// Deletes a JSON sub-resource (it becomes `null`).
#[utoipa::path(
    delete,
    path = "/documents/{doc_id}/{part}",
    operation_id = "deletePart",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id"), ("part" = inline(Part), Path, description = "A JSON sub-resource")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such document or sub-resource"),
        (status = 409, description = "The other objects need this one (the detail says which)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn part(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = super::part_path(path)?;
    documents::delete_part(&context, &principal, &id, part).await?;
    Ok(HttpResponse::NoContent().finish())
}
