//! `GET /documents/{docId}`, `…/document` and the JSON sub-resources.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt as _;
use shared::config::SecurityMode;
use shared::content_signature::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

use crate::auth::{Authorized, Read};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::openapi::schemas::{DocumentRecord, Part};
use crate::representation;

/// The record (signed, as every answer, by [`crate::signed_responses`]).
#[utoipa::path(
    get,
    path = "/documents/{doc_id}",
    operation_id = "getDocument",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    responses(
        (status = 200, description = "The record", body = DocumentRecord,
            headers(
                ("Last-Modified" = String, description = "An HTTP-date"),
                ("Content-Location" = String, description = "`{apiRoot}/documents/{docId}`, as Create answers"),
            )),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn record(
    context: web::Data<ApiContext>,
    principal: Authorized<Read>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = documents::find(&context, &principal, &path).await?;
    let body = serde_json::to_vec(&representation::record(&context.links, &record))
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::LAST_MODIFIED,
            representation::http_date(record.last_modified),
        ))
        .insert_header((
            header::CONTENT_LOCATION,
            representation::self_href(&context.links, &record),
        ))
        .content_type(mime::APPLICATION_JSON)
        .body(body))
}

/// The decrypted content, streamed with its media type and the vault's protections
/// ([`vault::http::content_headers`]: `attachment` unless passive, `sandbox` CSP, `nosniff`,
/// `no-store`), so content read back in a browser cannot run as the API's origin, where the
/// operator's token lives. A segment that fails authentication ends the stream with an error,
/// which aborts the connection: the client never sees a clean end of a body that is wrong or
/// short. The whole content carries the signature stored with it at upload (DESIGN.md, "Signed
/// responses"; none for content stored before migration 0008), as the handle endpoint's
/// downloads do: it is streamed, not buffered to be signed again.
#[utoipa::path(
    get,
    path = "/documents/{doc_id}/document",
    operation_id = "getContent",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    responses(
        (status = 200, description = "The content, with its media type", content(("application/octet-stream"), ("*/*")),
            headers(("Last-Modified" = String, description = "An HTTP-date"))),
        (status = 405, description = "A high-security instance: content is read through the gateway only"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn content(
    context: web::Data<ApiContext>,
    principal: Authorized<Read>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if context.security == SecurityMode::High {
        return Err(ApiError::MethodNotAllowed { allow: "PUT" });
    }
    let record = documents::find(&context, &principal, &path).await?;
    let signature = context.repo.object_signature(&record.object_key).await?;
    let reader = context.vault.read(&record.object_key).await?;
    let stream = reader.stream.map(|item| {
        item.map_err(|error| {
            tracing::error!(error = %error, "document stream failed its integrity check");
            actix_web::error::ErrorInternalServerError("integrity")
        })
    });
    let mut response = HttpResponse::Ok();
    for pair in vault::http::content_headers(&record.media_type, &record.name) {
        response.insert_header(pair);
    }
    if let Some(signed) = signature {
        response
            .insert_header((SIGNATURE_HEADER, signed.signature))
            .insert_header((SIGNATURE_DATE_HEADER, signed.signature_date));
    }
    Ok(response
        .insert_header((
            header::LAST_MODIFIED,
            representation::http_date(record.last_modified),
        ))
        .no_chunking(reader.size)
        .streaming(stream))
}

/// `audience`, `challenge`, `fulfillment`, `landingpage`, `metadata`: the stored JSON, or
/// `null` when the object is undefined.
#[utoipa::path(
    get,
    path = "/documents/{doc_id}/{part}",
    operation_id = "getPart",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id"), ("part" = inline(Part), Path, description = "A JSON sub-resource")),
    responses(
        (status = 200, description = "The stored JSON object, or `null`", body = Option<Object>),
        (status = 404, description = "No such document or sub-resource"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn sub_resource(
    context: web::Data<ApiContext>,
    principal: Authorized<Read>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, part) = super::part_path(path)?;
    let record = documents::find(&context, &principal, &id).await?;
    Ok(HttpResponse::Ok().json(part.get(&record)))
}
