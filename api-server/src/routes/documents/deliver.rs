//! `POST /documents/{docId}/deliver` and `GET /documents/{docId}/deliveries/{id}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Authorized, Deliver};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::openapi::schemas::DeliveryStatus;
use crate::{delivery, documents, idempotency};

/// Queues a delivery of the document's sealed links through its fulfillment (spec,
/// "Controller URIs"). The body is `multipart/form-data` of producer-defined text fields, the
/// templates' variables (plus `smtp_url` for an email fulfillment); none is stored in clear.
///
/// 202 with `Location: {apiRoot}/documents/{docId}/deliveries/{id}` and the delivery's status
/// JSON. 404 for an unknown or another producer's document, 410 once expired, 409 without a
/// fulfillment object, 400/413/415/422 for a malformed form (naming the field).
#[utoipa::path(
    post,
    path = "/documents/{doc_id}/deliver",
    operation_id = "deliver",
    tag = "delivery",
    params(("doc_id" = String, Path, description = "The document's id")),
    request_body(content = BTreeMap<String, String>, content_type = "multipart/form-data",
        description = "Producer-defined text fields: the fulfillment templates' variables"),
    responses(
        (status = 202, description = "Queued", body = DeliveryStatus,
            headers(("Location" = String, description = "`{apiRoot}/documents/{docId}/deliveries/{id}`")),
            links(("GetDelivery" = (operation_id = "getDelivery", parameters(("doc_id" = "$request.path.doc_id"), ("id" = "$response.body#/id")))))),
        (status = 400, description = "A malformed form"),
        (status = 404, description = "No such document (or another producer's)"),
        (status = 410, description = "The document expired"),
        (status = 409, description = "The document has no fulfillment object"),
        (status = 413, description = "A part larger than its limit"),
        (status = 415, description = "Not multipart/form-data"),
        (status = 422, description = "A field the fulfillment cannot use (named in `field`)"),
    ),
)]
pub async fn deliver(
    context: web::Data<ApiContext>,
    principal: Authorized<Deliver>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let record = documents::find(&context, &principal, &path).await?;
    let (context, principal, record, request) = (&context, &principal, &record, &request);
    idempotency::run(context, principal, request, body, |body| async move {
        let form = delivery::request::read(request, body).await?;
        let id = delivery::deliver(context, principal, record, form).await?;
        let status = delivery::status(context, principal, record, id.as_str()).await?;
        let href = self_href(context, record.id.as_str(), id.as_str());
        Ok(HttpResponse::Accepted()
            .insert_header((header::LOCATION, href.clone()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(delivery::status_json(context, &status, &href)))
    })
    .await
}

/// A delivery's per-recipient status (queued, sent, failed with reason, attempts).
#[utoipa::path(
    get,
    path = "/documents/{doc_id}/deliveries/{id}",
    operation_id = "getDelivery",
    tag = "delivery",
    params(("doc_id" = String, Path, description = "The document's id"), ("id" = String, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery's status", body = DeliveryStatus),
        (status = 404, description = "No such document or delivery"),
        (status = 410, description = "The document expired"),
    ),
)]
pub async fn status(
    context: web::Data<ApiContext>,
    principal: Authorized<Deliver>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (doc_id, id) = path.into_inner();
    let record = documents::find(&context, &principal, &doc_id).await?;
    let status = delivery::status(&context, &principal, &record, &id).await?;
    let href = self_href(&context, record.id.as_str(), status.id.as_str());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(delivery::status_json(&context, &status, &href)))
}

fn self_href(context: &ApiContext, doc_id: &str, id: &str) -> String {
    format!(
        "{}/documents/{doc_id}/deliveries/{id}",
        context.links.api_root
    )
}
