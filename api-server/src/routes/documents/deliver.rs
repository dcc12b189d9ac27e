//! `POST /documents/{docId}/deliver` and `GET /documents/{docId}/deliveries/{id}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::{Authorized, Deliver};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::{delivery, documents};

/// Queues a delivery of the document's sealed links through its fulfillment (spec,
/// "Controller URIs"). The body is `multipart/form-data` of producer-defined text fields, the
/// templates' variables (plus `smtp_url` for an email fulfillment); none is stored in clear.
///
/// 202 with `Location: {apiRoot}/documents/{docId}/deliveries/{id}` and the delivery's status
/// JSON. 404 for an unknown or another producer's document, 410 once expired, 409 without a
/// fulfillment object, 400/413/415/422 for a malformed form (naming the field).
pub async fn deliver(
    context: web::Data<ApiContext>,
    principal: Authorized<Deliver>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let record = documents::find(&context, &principal, &path).await?;
    let form = delivery::request::read(&request, body).await?;
    let id = delivery::deliver(&context, &principal, &record, form).await?;
    let status = delivery::status(&context, &principal, &record, id.as_str()).await?;
    let href = self_href(&context, record.id.as_str(), id.as_str());
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, href.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(delivery::status_json(&context, &status, &href)))
}

/// A delivery's per-recipient status (queued, sent, failed with reason, attempts).
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
