//! `multipart/form-data` reading.
//!
//! Small parts (names, dates, JSON objects) are read into memory under a per-part limit and
//! answered 413 beyond it; the `document` part is never buffered: it streams straight into the
//! vault. Unknown and repeated parts are refused with 400 naming the part.
//!
//! JSON bodies and JSON parts are opened here when the request's API key requires payload
//! encryption ([`crate::payload`]), before anything parses or validates them.

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web::Payload;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt as _;
use serde_json::Value;

use crate::content_store::StoredContent;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::payload::{self, Opener};

/// Longest accepted `name`, `expiration` or `email` part, in bytes.
pub const MAX_TEXT_PART_BYTES: usize = 1024;
/// Longest accepted PEM `key` part, in bytes (an Ed25519 PKCS#8 PEM is about 120).
pub const MAX_KEY_PART_BYTES: usize = 16 * 1024;

/// The next part, with malformed multipart mapped to 400/415.
pub async fn next_field(multipart: &mut Multipart) -> Result<Option<Field>, ApiError> {
    multipart.try_next().await.map_err(multipart_error)
}

fn multipart_error(error: MultipartError) -> ApiError {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => {
            ApiError::UnsupportedMediaType("the body must be multipart/form-data".into())
        }
        other => ApiError::BadRequest {
            field: None,
            detail: format!("malformed multipart body: {other}"),
        },
    }
}

/// A part's name; a part without one is refused.
pub fn field_name(field: &Field) -> Result<String, ApiError> {
    field
        .name()
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadRequest {
            field: None,
            detail: "every part needs a name".into(),
        })
}

/// Reads a small part whole, refusing it beyond `limit` bytes (413) or when it is not UTF-8 (400).
pub async fn read_text(field: &mut Field, name: &str, limit: usize) -> Result<String, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        if buffer.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge {
                field: name.to_owned(),
                limit: limit as u64,
            });
        }
        buffer.extend_from_slice(&chunk);
    }
    String::from_utf8(buffer.to_vec())
        .map_err(|_| ApiError::bad_request(name, "must be UTF-8 text"))
}

/// The document part, stored encrypted but not yet committed to a record.
pub struct UploadedDocument {
    pub object: StoredContent,
    pub media_type: String,
    pub filename: Option<String>,
}

/// The parts of `POST /documents` and `POST /documents/{docId}`. JSON parts are
/// `Some(None)` when given as `null`, `None` when absent.
#[derive(Default)]
pub struct DocumentForm {
    pub name: Option<String>,
    pub expiration: Option<String>,
    pub audience: Option<Option<Value>>,
    pub challenge: Option<Option<Value>>,
    pub fulfillment: Option<Option<Value>>,
    pub landingpage: Option<Option<Value>>,
    pub metadata: Option<Option<Value>>,
    pub document: Option<UploadedDocument>,
}

impl DocumentForm {
    /// Reads every part. On any error the stored document (if any) is destroyed before
    /// returning, so a failed request leaves no content behind.
    pub async fn read(multipart: &mut Multipart, context: &ApiContext) -> Result<Self, ApiError> {
        let mut form = Self::default();
        let result = form.read_parts(multipart, context).await;
        match result {
            Ok(()) => Ok(form),
            Err(error) => {
                form.discard().await;
                Err(error)
            }
        }
    }

    /// Destroys the stored document part, if any (nothing may remain after a failed insertion).
    pub async fn discard(&mut self) {
        if let Some(document) = self.document.take() {
            document.object.discard().await;
        }
    }

    async fn read_parts(
        &mut self,
        multipart: &mut Multipart,
        context: &ApiContext,
    ) -> Result<(), ApiError> {
        let limits = context.limits;
        while let Some(mut field) = next_field(multipart).await? {
            let name = field_name(&field)?;
            match name.as_str() {
                "document" => {
                    once(&self.document, &name)?;
                    self.document = Some(read_document(field, context).await?);
                }
                "name" => {
                    once(&self.name, &name)?;
                    self.name = Some(read_text(&mut field, &name, MAX_TEXT_PART_BYTES).await?);
                }
                "expiration" => {
                    once(&self.expiration, &name)?;
                    self.expiration =
                        Some(read_text(&mut field, &name, MAX_TEXT_PART_BYTES).await?);
                }
                "audience" | "challenge" | "fulfillment" | "landingpage" | "metadata" => {
                    let value =
                        read_json_object(&mut field, &name, limits.max_json_part_bytes).await?;
                    let slot = match name.as_str() {
                        "audience" => &mut self.audience,
                        "challenge" => &mut self.challenge,
                        "fulfillment" => &mut self.fulfillment,
                        "landingpage" => &mut self.landingpage,
                        _ => &mut self.metadata,
                    };
                    once(slot, &name)?;
                    *slot = Some(value);
                }
                _ => return Err(ApiError::bad_request(&name, "unknown part")),
            }
        }
        Ok(())
    }
}

fn once<T>(slot: &Option<T>, name: &str) -> Result<(), ApiError> {
    if slot.is_some() {
        Err(ApiError::bad_request(name, "the part is given twice"))
    } else {
        Ok(())
    }
}

/// A JSON part: an object, or `null` for "none"; sealed when the request's API key requires
/// payload encryption ([`crate::payload`]), and opened here, before validation.
async fn read_json_object(
    field: &mut Field,
    name: &str,
    limit: usize,
) -> Result<Option<Value>, ApiError> {
    let Some(opener) = payload::opener() else {
        let text = read_text(field, name, limit).await?;
        return parse_json_object(&text, name);
    };
    let declared_json = field
        .content_type()
        .is_some_and(|mime| mime.essence_str() == "application/json");
    let sealed = read_text(field, name, Opener::sealed_limit(limit)).await?;
    let plain = opener.open(name, sealed.as_bytes(), declared_json)?;
    parse_json_body(&plain, name)
}

/// A JSON object, or `null` for "none" (422 naming `name` otherwise).
fn parse_json_object(text: &str, name: &str) -> Result<Option<Value>, ApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Null) => Ok(None),
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(ApiError::invalid(name, "must be a JSON object or null")),
        Err(error) => Err(ApiError::invalid(
            name,
            format!("is not valid JSON: {error}"),
        )),
    }
}

async fn read_document(field: Field, context: &ApiContext) -> Result<UploadedDocument, ApiError> {
    // The part's own header, checked before any byte is stored (actix's parsed `content_type`
    // drops a malformed one silently).
    let media_type = match field.headers().get(header::CONTENT_TYPE) {
        Some(value) => {
            let text = (value.to_str())
                .map_err(|_| ApiError::invalid("document", "its Content-Type must be text"))?;
            crate::documents::normalise_media_type(text, "document")?
        }
        None => "application/octet-stream".to_owned(),
    };
    let filename = field
        .content_disposition()
        .and_then(|disposition| disposition.get_filename())
        .map(str::to_owned);
    // actix's multipart errors are not `Send`; the vault keeps the cause as text.
    let body = field.map_err(|error| std::io::Error::other(error.to_string()));
    let object = crate::documents::store_content(context, body).await?;
    Ok(UploadedDocument {
        object,
        media_type,
        filename,
    })
}

/// The request's `Content-Type`, when it has one (400 when it is not text).
pub fn media_type(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| {
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::bad_request("Content-Type", "must be text"))
        })
        .transpose()
}

/// A JSON request body (`application/json`, 415 otherwise) of at most `limit` bytes (413):
/// an object, or `null`.
pub async fn read_json_body(
    request: &HttpRequest,
    body: Payload,
    name: &str,
    limit: usize,
) -> Result<Option<Value>, ApiError> {
    if let Some(opener) = payload::opener() {
        let buffer = read_bounded(body, name, Opener::sealed_limit(limit)).await?;
        return parse_sealed_body(request, &opener, &buffer, name);
    }
    check_json_media_type(request, &format!("{name} object"))?;
    let buffer = read_bounded(body, name, limit).await?;
    parse_json_body(&buffer, name)
}

/// As [`read_json_body`], except that an empty body (with any `Content-Type`, or none) is
/// `None` too: for requests whose body is optional.
pub async fn read_optional_json_body(
    request: &HttpRequest,
    body: Payload,
    name: &str,
    limit: usize,
) -> Result<Option<Value>, ApiError> {
    let opener = payload::opener();
    let bound = opener
        .as_ref()
        .map_or(limit, |_| Opener::sealed_limit(limit));
    let buffer = read_bounded(body, name, bound).await?;
    if buffer.is_empty() {
        return Ok(None);
    }
    if let Some(opener) = opener {
        return parse_sealed_body(request, &opener, &buffer, name);
    }
    check_json_media_type(request, name)?;
    parse_json_body(&buffer, name)
}

/// A sealed JSON body ([`crate::payload`]): it must say `text/plain` (a body sent as
/// `application/json` is plain, refused with 400) and open under the request's key.
fn parse_sealed_body(
    request: &HttpRequest,
    opener: &Opener,
    buffer: &[u8],
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let plain = opener.open(name, buffer, !is_sealed_media_type(request)?)?;
    parse_json_body(&plain, name)
}

/// Whether the request says `text/plain`, the media type of a sealed body.
fn is_sealed_media_type(request: &HttpRequest) -> Result<bool, ApiError> {
    Ok(media_type(request)?
        .and_then(|text| text.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.essence_str() == payload::SEALED_MEDIA_TYPE))
}

/// A JSON body its handler reads whole (`web::Bytes`): opened when the request's API key
/// requires payload encryption ([`crate::payload`]), as it is otherwise.
pub fn opened_body(request: &HttpRequest, body: Bytes, name: &str) -> Result<Bytes, ApiError> {
    match payload::opener() {
        Some(opener) => opener
            .open(name, &body, !is_sealed_media_type(request)?)
            .map(Bytes::from),
        None => Ok(body),
    }
}

/// 415 unless the request says `application/json`; `what` names the body in the detail.
fn check_json_media_type(request: &HttpRequest, what: &str) -> Result<(), ApiError> {
    let is_json = media_type(request)?
        .and_then(|text| text.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.essence_str() == "application/json");
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the {what} must be sent as application/json"
        )))
    }
}

async fn read_bounded(mut body: Payload, name: &str, limit: usize) -> Result<BytesMut, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = body.try_next().await.map_err(|error| {
        ApiError::bad_request(name, format!("the body was interrupted: {error}"))
    })? {
        if buffer.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge {
                field: name.to_owned(),
                limit: limit as u64,
            });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

fn parse_json_body(buffer: &[u8], name: &str) -> Result<Option<Value>, ApiError> {
    let text = std::str::from_utf8(buffer)
        .map_err(|_| ApiError::bad_request(name, "must be UTF-8 JSON"))?;
    parse_json_object(text, name)
}
