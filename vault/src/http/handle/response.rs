//! The successful answers: headers describing the document, and its verified byte stream.

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderName, HeaderValue, HttpDate};
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use schema::{ContentSignature, DocumentRecord};
use shared::content_signature::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

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

/// The headers that make stored content harmless to serve, for the vault's viewers and the
/// producer API's read-back alike (one decision for both): the type as stored (anything
/// unsendable becomes `application/octet-stream`), `attachment` unless the type is known to
/// be passive (`disposition::for_type`), a `sandbox` CSP so an HTML or SVG file that is
/// rendered anyway runs in an opaque origin, no sniffing into something executable, no caching,
/// and no `Referer` carrying a handle or token onwards.
pub fn content_headers(media_type: &str, name: &str) -> [(HeaderName, HeaderValue); 6] {
    let content_type = HeaderValue::from_str(media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&disposition::for_type(media_type, name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// The headers every successful answer carries, GET or HEAD, 200 or 206: the content's
/// protections ([`content_headers`]) and the validators.
fn describe(response: &mut HttpResponseBuilder, document: &DocumentRecord) {
    for pair in content_headers(&document.media_type, &document.name) {
        response.insert_header(pair);
    }
    response
        .insert_header((header::ETAG, etag(document)))
        .insert_header((header::LAST_MODIFIED, last_modified(document)))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
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
