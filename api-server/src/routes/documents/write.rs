//! `POST /documents/{docId}`, `PUT /documents/{docId}/document` and `PUT …/{part}`.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt as _;

use super::unmodified_since;
use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents::{self, Outcome};
use crate::error::ApiError;
use crate::form::{self, DocumentForm};
use crate::representation;

pub async fn update(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    path: web::Path<String>,
    mut multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    documents::find(&context, &principal, &path).await?;
    let form = DocumentForm::read(&mut multipart, &context).await?;
    let record = documents::update(&context, &principal, &path, form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::LAST_MODIFIED,
            representation::http_date(record.last_modified),
        ))
        .json(representation::record(&context.links, &record)))
}

/// The body is the new content and `Content-Type` its media type.
pub async fn replace_content(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let since = unmodified_since(&request)?;
    let media_type = match form::media_type(&request)? {
        Some(text) => documents::normalise_media_type(&text, "Content-Type")?,
        None => "application/octet-stream".to_owned(),
    };
    let body = body.map_err(|error| std::io::Error::other(error.to_string()));
    match documents::replace_content(&context, &principal, &path, media_type, body, since).await? {
        Outcome::Done(()) => Ok(no_content(&context, &path, "document")),
        Outcome::NotModified => Ok(HttpResponse::NotModified().finish()),
    }
}

/// The body is the new JSON object (`application/json`), or `null`.
pub async fn put_part(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = super::part_path(path)?;
    documents::find(&context, &principal, &id).await?;
    let value = form::read_json_body(
        &request,
        body,
        part.name(),
        context.limits.max_json_part_bytes,
    )
    .await?;
    documents::put_part(&context, &principal, &id, part, value).await?;
    Ok(no_content(&context, &id, part.name()))
}

/// 204 with `Location` naming the resource written.
fn no_content(context: &ApiContext, id: &str, part: &str) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((
            header::LOCATION,
            format!("{}/documents/{id}/{part}", context.links.api_root),
        ))
        .finish()
}
