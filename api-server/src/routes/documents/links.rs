//! `POST /documents/{docId}/links`: sealed links, for producers who mail their own.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::{Authorized, Write};
use crate::context::ApiContext;
use crate::documents;
use crate::error::ApiError;
use crate::form;
use crate::openapi::schemas::{LinksRequest, SealedLinks};

/// Sealed links `{gateway}/l/{sealed}` for a document's viewers. Each seal holds the document's
/// current placeholder id and one viewer's token fields, encrypted and authenticated, so no
/// personal data stands in the link; the gateway opens it and redirects to the document
/// request. A later `POST /documents/{docId}` (new placeholder) invalidates them.
///
/// Same authentication as the other document routes; an unknown or another producer's
/// `docId` is 404, an expired document 410. Only `POST` (405 with `Allow: POST` otherwise).
///
/// Request: no body (or an empty one, or JSON `null`):
/// - a `records` audience with a `viewerToken`: one link per record, in record order, each
///   sealing that record's values of the token's variables, in the template's order;
/// - otherwise (no audience, `records` with a null `viewerToken`, `octet-stream`): one link
///   with an empty viewer token.
///
/// Or `application/json` `{"viewers": [{"name": "value", …}, …]}` (at most
/// `viewers::MAX_VIEWERS` entries, the body at most `api.max_json_part_bytes`): one link per
/// entry, in order. Values are strings. For a `records` audience with a `viewerToken`, an entry
/// gives exactly the token's variables and must match a record (the gateway would refuse a
/// viewer no record matches); without a viewer token, entries are `{}`; for `octet-stream`,
/// whose token the spec leaves unchecked, any fields named as RFC 6570 variables, sealed in
/// the order of the token template's variables, then by name. Anything else is 422 naming
/// `viewers[i]` or `viewers[i].field`; a non-JSON body is 415, a larger one 413. A token too
/// long to seal within the gateway's limit is 422 too.
///
/// Response 200 `application/json`, `Cache-Control: no-store` (the links are credentials):
/// `{"links": [{"href": "{gateway}/l/{sealed}", "record": 0}, …]}`, where `record` is the
/// index of the audience record the link names (the first match, for an entry), present only
/// for a `records` audience with a `viewerToken`.
#[utoipa::path(
    post,
    path = "/documents/{doc_id}/links",
    operation_id = "createLinks",
    tag = "documents",
    params(("doc_id" = String, Path, description = "The document's id")),
    request_body(content = Option<LinksRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The sealed links", body = SealedLinks),
        (status = 400, description = "Not JSON"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
        (status = 413, description = "Larger than `api.max_json_part_bytes`"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "A viewer that does not fit the audience (named in `field`)"),
    ),
)]
pub async fn create(
    context: web::Data<ApiContext>,
    principal: Authorized<Write>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let record = documents::find(&context, &principal, &path).await?;
    let body =
        form::read_optional_json_body(&request, body, "body", context.limits.max_json_part_bytes)
            .await?;
    let links = documents::links(&context, &record, body.as_ref())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "links": links })))
}
