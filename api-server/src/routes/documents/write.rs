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
use crate::idempotency;
use crate::openapi::schemas::{Binary, DocumentRecord, Part, UpdateDocumentForm};
use crate::representation;

/// Updates any subset of the record's fields (spec, "Update"): a new placeholder is issued,
/// so earlier document requests and sealed links stop working. 200 with the record.
#[utoipa::path(
    post,
    path = "/documents/{doc_id}",
    operation_id = "updateDocument",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    request_body(content = UpdateDocumentForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The updated record", body = DocumentRecord,
            headers(
                ("Last-Modified" = String, description = "An HTTP-date"),
                ("Content-Location" = String, description = "`{apiRoot}/documents/{docId}`, as Create answers"),
            )),
        (status = 400, description = "A malformed form or part, an unknown or repeated part"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
        (status = 413, description = "A part larger than its limit"),
        (status = 415, description = "Not multipart/form-data"),
        (status = 422, description = "A part that does not validate (named in `field`)"),
    ),
)]
pub async fn update(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    documents::find(&context, &principal, &path).await?;
    let (context, principal, headers) = (&context, &principal, request.headers());
    idempotency::run(context, principal, &request, payload, |body| async move {
        let mut multipart = Multipart::new(headers, body);
        let form = DocumentForm::read(&mut multipart, context).await?;
        let record = documents::update(context, principal, &path, form).await?;
        Ok(HttpResponse::Ok()
            .insert_header((
                header::LAST_MODIFIED,
                representation::http_date(record.last_modified),
            ))
            .insert_header((
                header::CONTENT_LOCATION,
                representation::self_href(&context.links, &record),
            ))
            .json(representation::record(&context.links, &record)))
    })
    .await
}

/// Overwrites the content in place (the placeholder stays). The body is the new content and
/// `Content-Type` its media type. With `?lastModified=`, nothing is written when the record
/// changed since (304).
#[utoipa::path(
    put,
    path = "/documents/{doc_id}/document",
    operation_id = "replaceContent",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id"), ("lastModified" = Option<String>, Query, description = "An HTTP-date")),
    request_body(content = inline(Binary), content_type = "application/octet-stream",
        description = "The new content; its `Content-Type` is the document's media type"),
    responses(
        (status = 204, description = "Written",
            headers(("Location" = String, description = "`{apiRoot}/documents/{docId}/document`"))),
        (status = 304, description = "Changed since `lastModified`: not written"),
        (status = 400, description = "A bad `lastModified` or `Content-Type`"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
        (status = 413, description = "Larger than the instance's limit"),
        (status = 422, description = "A `Content-Type` that is not a media type"),
    ),
)]
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

/// Replaces a JSON sub-resource. The body is the new JSON object (`application/json`), or
/// `null`; the spec's conflicts (a changed audience type or viewer token, a challenge moved
/// from `literal` to `field`) are 409.
#[utoipa::path(
    put,
    path = "/documents/{doc_id}/{part}",
    operation_id = "putPart",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id"), ("part" = inline(Part), Path, description = "A JSON sub-resource")),
    request_body(content = Option<Object>, content_type = "application/json"),
    responses(
        (status = 204, description = "Written",
            headers(("Location" = String, description = "`{apiRoot}/documents/{docId}/{part}`"))),
        (status = 400, description = "Not JSON"),
        (status = 404, description = "No such document or sub-resource"),
        (status = 409, description = "A change the spec forbids through PUT"),
        (status = 410, description = "The document expired"),
        (status = 413, description = "Larger than `api.max_json_part_bytes`"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "An object that does not validate (named in `field`)"),
    ),
)]
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
