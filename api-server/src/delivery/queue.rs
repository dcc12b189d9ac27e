//! Queuing a delivery (`POST /documents/{docId}/deliver`) and reading its status back.

use chrono::Utc;
use schema::objects::{Fulfillment, Typed};
use schema::repo::delivery::{DeliveryStatus, NewDelivery};
use schema::{DocumentId, DocumentRecord};
use secrecy::ExposeSecret as _;

use super::Deliveries;
use super::email::SmtpServer;
use super::request::{DeliverForm, SMTP_URL};
use super::secrets::DeliverySecrets;
use super::viewer::recipients;
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Checks that `record` can be delivered with `form`, stores the delivery and its jobs (one per
/// recipient) and wakes this process's worker. Returns the delivery's id.
///
/// 409 without a fulfillment object; 422 when the fulfillment asks for what this request lacks
/// (an email fulfillment without `smtp_url` here or in the instance config), when `smtp_url`
/// is malformed or given for another kind of fulfillment.
pub async fn deliver(
    context: &ApiContext,
    principal: &Principal,
    record: &DocumentRecord,
    form: DeliverForm,
) -> Result<DocumentId, ApiError> {
    let deliveries: &Deliveries = &context.delivery;
    let stored = record.fulfillment.as_ref().ok_or_else(no_fulfillment)?;
    let fulfillment = stored.value();
    let smtp_url = smtp_url(deliveries, fulfillment, form.smtp_url)?;
    let audience = record.audience.as_ref().map(Typed::value);
    let id = DocumentId::random();
    let batch = matches!(fulfillment, Fulfillment::Http { batch: true, .. });
    let recipients = recipients(audience, id.as_str(), batch);
    let secrets = DeliverySecrets {
        form: form.fields,
        smtp_url,
    };
    // A delivery without recipients ends at once: it keeps no secrets.
    let secrets = (!recipients.is_empty())
        .then(|| deliveries.key.seal(id.as_str(), &secrets))
        .transpose()
        .map_err(ApiError::internal)?;
    let delivery = NewDelivery {
        id: id.clone(),
        producer_id: principal.producer.clone(),
        document_id: record.id.clone(),
        operator: Some(principal.operator.clone()),
        // The job keeps the JSON as written; the worker parses it per attempt.
        fulfillment: stored.json().clone(),
        secrets,
        created_at: Utc::now(),
        // A test document's deliveries are captured, never sent.
        environment: record.environment,
    };
    context.repo.insert_delivery(&delivery, &recipients).await?;
    deliveries.wake.notify_one();
    Ok(id)
}

/// 409: nothing to deliver through.
fn no_fulfillment() -> ApiError {
    ApiError::Conflict(
        "the document has no fulfillment object, so there is nothing to deliver through: \
         set one (PUT /documents/{docId}/fulfillment), or mail the links of \
         POST /documents/{docId}/links yourself"
            .into(),
    )
}

/// The SMTP server `given` with the request, checked against the fulfillment: required for
/// an email fulfillment unless the instance has one configured (`None`: the instance's),
/// refused for any other kind, and it must parse (422 naming `smtp_url` otherwise).
fn smtp_url(
    deliveries: &Deliveries,
    fulfillment: &Fulfillment,
    given: Option<String>,
) -> Result<Option<String>, ApiError> {
    let url = match (fulfillment, given) {
        (Fulfillment::Email { .. }, Some(url)) => url,
        (Fulfillment::Email { .. }, None) if deliveries.smtp_url.expose_secret().is_empty() => {
            return Err(ApiError::invalid(
                SMTP_URL,
                "is required for an email fulfillment (this instance has no SMTP server \
                 configured): smtp://user:password@host:587",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                SMTP_URL,
                "applies only to email fulfillments",
            ));
        }
        (_, _) => return Ok(None),
    };
    SmtpServer::parse(&url).map_err(|detail| ApiError::invalid(SMTP_URL, detail))?;
    Ok(Some(url))
}

/// The delivery's JSON ([`super::status::to_json`]), with a test delivery's captured messages
/// opened.
pub fn status_json(context: &ApiContext, status: &DeliveryStatus, href: &str) -> serde_json::Value {
    let captured = super::capture::open(&context.delivery.key, status);
    super::status::to_json(status, href, &captured)
}

/// The caller's delivery `id` of `record`; 404 for a malformed, unknown or another's id.
pub async fn status(
    context: &ApiContext,
    principal: &Principal,
    record: &DocumentRecord,
    id: &str,
) -> Result<DeliveryStatus, ApiError> {
    let id = DocumentId::parse(id).map_err(|_| ApiError::NotFound)?;
    context
        .repo
        .delivery(&principal.producer, &record.id, &id)
        .await?
        .ok_or(ApiError::NotFound)
}
