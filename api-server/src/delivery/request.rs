//! The deliver request's body: `multipart/form-data` of producer-defined text fields (the
//! spec's "form-data from this call"), read into memory under limits, and `smtp_url`.

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::http::header;
use futures_util::StreamExt as _;
use schema::objects::is_varname;

use super::viewer::RESERVED;
use crate::error::ApiError;
use crate::form;
use crate::idempotency::Body;

/// Most fields a deliver request may hold.
pub const MAX_FIELDS: usize = 100;
/// Longest field value, in bytes.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// The field that names the SMTP server of an email fulfillment; never a template variable.
pub const SMTP_URL: &str = "smtp_url";

/// What the deliver request sent.
#[derive(Default)]
pub struct DeliverForm {
    pub fields: Vec<(String, String)>,
    pub smtp_url: Option<String>,
}

/// Reads the form. A request without a body (and without `Content-Type`) sends no fields.
/// Parts must be named as RFC 6570 variables (else they could fill no template), once each,
/// and not as Sealpost's own variables (`link`, `placeholder`, `docId`).
pub async fn read(request: &HttpRequest, mut payload: Body) -> Result<DeliverForm, ApiError> {
    if !request.headers().contains_key(header::CONTENT_TYPE) {
        return match payload.next().await {
            None => Ok(DeliverForm::default()),
            Some(_) => Err(ApiError::UnsupportedMediaType(
                "the deliver request's body must be multipart/form-data".into(),
            )),
        };
    }
    let mut multipart = Multipart::new(request.headers(), payload);
    let mut out = DeliverForm::default();
    while let Some(mut field) = form::next_field(&mut multipart).await? {
        let name = form::field_name(&field)?;
        let value = form::read_text(&mut field, &name, MAX_FIELD_BYTES).await?;
        if name == SMTP_URL {
            if out.smtp_url.replace(value).is_some() {
                return Err(ApiError::bad_request(SMTP_URL, "is given twice"));
            }
            continue;
        }
        if !is_varname(&name) {
            return Err(ApiError::invalid(
                &name,
                "is not an RFC 6570 variable name (letters, digits, `_`, %XX, single dots), so no \
                 template could use it",
            ));
        }
        if RESERVED.contains(&name.as_str()) {
            return Err(ApiError::invalid(
                &name,
                "is set by Sealpost for each viewer (link, placeholder, docId)",
            ));
        }
        if out.fields.iter().any(|(seen, _)| *seen == name) {
            return Err(ApiError::bad_request(&name, "is given twice"));
        }
        if out.fields.len() == MAX_FIELDS {
            return Err(ApiError::bad_request(
                &name,
                format!("a deliver request may hold at most {MAX_FIELDS} fields"),
            ));
        }
        out.fields.push((name, value));
    }
    Ok(out)
}
