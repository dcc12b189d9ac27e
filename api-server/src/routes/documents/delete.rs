//! `DELETE /documents/{docId}{?lastModified}`, `…/document` (409) and `…/{part}`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::unmodified_since;
use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents::{self, Outcome};
use crate::error::ApiError;

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

/// Deleting only the content is not allowed: the whole record must be deleted (spec).
pub async fn content(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    documents::find(&context, &principal, &path).await?;
    Err(ApiError::Conflict(
        "the content cannot be deleted alone; DELETE the document instead".into(),
    ))
}

pub async fn part(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = super::part_path(path)?;
    documents::delete_part(&context, &principal, &id, part).await?;
    Ok(HttpResponse::NoContent().finish())
}
