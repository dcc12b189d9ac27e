//! The successful answers: headers describing the document, and its verified byte stream.

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderValue, HttpDate};
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use schema::{ContentSignature, DocumentRecord};
use shared::logzip::response::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

use super::disposition;
use crate::ObjectReader;
use crate::http::access::BodyFailure;
use shared::telemetry::error_chain;

/// The validators a conditional request is checked against.
pub fn etag(document: &DocumentRecord) -> String {
    format!("\"{}\"", document.hash_value)
}

pub fn last_modified(document: &DocumentRecord) -> String {
    HttpDate::from(SystemTime::from(document.last_modified)).to_string()
}

/// The headers every successful answer carries, GET or HEAD, 200 or 206. The security headers
/// keep an uploaded HTML or SVG file from running as the vault's origin or being sniffed into
/// something executable, and keep the handle out of any `Referer`.
fn describe(response: &mut HttpResponseBuilder, document: &DocumentRecord) {
    let content_type = HeaderValue::from_str(&document.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&disposition::inline(&document.name))
        .unwrap_or(HeaderValue::from_static("inline"));
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::ETAG, etag(document)))
        .insert_header((header::LAST_MODIFIED, last_modified(document)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
}

/// The signed-response headers of a whole answer (DESIGN.md): the instance key's signature over
/// the content's SHA-256, made by the API when it stored the content. Partial answers carry
/// none (the signature is over the whole content, not the part sent).
fn sign(response: &mut HttpResponseBuilder, signature: Option<&ContentSignature>) {
    if let Some(signed) = signature {
        response
            .insert_header((SIGNATURE_HEADER, signed.signature.as_str()))
            .insert_header((SIGNATURE_DATE_HEADER, signed.signature_date.as_str()));
    }
}

/// HEAD: GET's headers, no body. The length is announced explicitly: an empty body would make
/// actix-web write `Content-Length: 0`.
pub fn head(
    document: &DocumentRecord,
    size: u64,
    signature: Option<&ContentSignature>,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    describe(&mut response, document);
    sign(&mut response, signature);
    response
        .no_chunking(size)
        .streaming(stream::empty::<Result<Bytes, BodyFailure>>())
}

/// 200 with the whole document.
pub fn whole(
    document: &DocumentRecord,
    reader: ObjectReader,
    signature: Option<&ContentSignature>,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    describe(&mut response, document);
    sign(&mut response, signature);
    response
        .no_chunking(reader.size)
        .streaming(verified(document, reader))
}

/// 206 with bytes `start..=end`.
pub fn part(document: &DocumentRecord, start: u64, end: u64, reader: ObjectReader) -> HttpResponse {
    let mut response = HttpResponse::PartialContent();
    describe(&mut response, document);
    response
        .insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{}", reader.size),
        ))
        .no_chunking(end - start + 1)
        .streaming(verified(document, reader))
}

/// The reader's stream for the wire. A segment that fails authentication ends it with an
/// error, on which actix-web closes the connection: with `Content-Length` already sent, the
/// client sees a broken transfer, never a clean end of a short or wrong body.
fn verified(
    document: &DocumentRecord,
    reader: ObjectReader,
) -> impl futures_util::Stream<Item = Result<Bytes, BodyFailure>> + 'static {
    let (id, key) = (document.id.clone(), document.object_key.clone());
    reader.stream.map(move |item| {
        item.map_err(|error| {
            tracing::error!(
                document = %id,
                object = %key,
                error = %error_chain(&error),
                "document stream failed mid-body; aborting the connection"
            );
            BodyFailure {
                code: super::ViewError::from(error).code(),
            }
        })
    })
}
