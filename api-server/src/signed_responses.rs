//! Signed responses (DESIGN.md, "Signed responses"): every answer of the API, whatever its
//! status, empty bodies included, leaves with `x-sealpost-signature` and
//! `x-sealpost-signature-date` over the exact bytes sent, signed with the instance key
//! ([`Signer`]). One middleware, wrapped outside every middleware that changes a body (the
//! access log's 503, payload encryption), so the signature covers what the client receives.
//!
//! Left as the handler made them:
//! - an answer that carries `x-sealpost-signature` already (a signature made elsewhere);
//! - a successful answer of a streamed route ([`STREAMED`]): a document's content carries the
//!   signature stored with it at upload (`routes/documents/read.rs`), an audit-log export is
//!   signed inside its zip. Buffering them would hold a whole document or export in memory and
//!   delay its first byte. Their error answers (401, 404, …) are small and signed here.
//!
//! Answers that never pass through the application (a malformed request line, headers too
//! large: actix-web's dispatcher answers those itself) cannot be signed.

use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use bytes::Bytes;
use shared::content_signature::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

use crate::error::ApiError;
use crate::signer::Signer;

/// The GET routes (as in [`crate::routes::ROUTES`]) whose successful answers are streamed and
/// signed otherwise.
pub const STREAMED: &[&str] = &["/documents/{doc_id}/document", "/logs", "/logs/{doc_id}"];

/// The largest body buffered to be signed. Every other answer is small and bounded: a JSON
/// record, a page of the browse list, a stored JSON part (at most `api.max_json_part_bytes`),
/// a problem+json or nothing; a body over this is a bug, answered 500 (signed).
pub const MAX_SIGNED_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The middleware (`actix_web::middleware::from_fn`, with the instance's signer): signs the
/// answer of `next`. An error no inner layer turned into a response passes on as it is (actix-web
/// renders it later, unsigned): none reaches here today, as handlers, extractors and the inner
/// middleware answer theirs, and the request it would need to be answered here is gone.
pub async fn sign<B>(
    signer: Signer,
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error>
where
    B: MessageBody + 'static,
{
    let response = next.call(request).await?.map_into_boxed_body();
    if response.headers().contains_key(SIGNATURE_HEADER) || is_streamed(&response) {
        return Ok(response);
    }
    let (request, response) = response.into_parts();
    let response = signed(&signer, &request, response).await;
    Ok(ServiceResponse::new(request, response))
}

/// A successful GET of one of the [`STREAMED`] routes.
fn is_streamed(response: &ServiceResponse) -> bool {
    let request = response.request();
    response.status().is_success()
        && request.method() == Method::GET
        && request
            .match_pattern()
            .is_some_and(|pattern| STREAMED.contains(&pattern.as_str()))
}

/// `response` with its body read whole (at most [`MAX_SIGNED_BODY_BYTES`]) and signed; a body
/// that cannot be read becomes a (signed) 500.
async fn signed(signer: &Signer, request: &HttpRequest, response: HttpResponse) -> HttpResponse {
    let (head, body) = response.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => Ok(bytes),
        Err(body) => match to_bytes_limited(body, MAX_SIGNED_BODY_BYTES).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("answer too large to sign".to_owned()),
        },
    };
    match bytes {
        Ok(bytes) => with_signature(signer, head, bytes),
        Err(detail) => {
            tracing::error!(
                path = request.path(),
                detail,
                "an answer could not be signed"
            );
            let (head, body) = ApiError::internal(detail).error_response().into_parts();
            with_signature(signer, head, body.try_into_bytes().unwrap_or_default())
        }
    }
}

/// `head` with the signed-response headers over `body`, and that body.
fn with_signature(signer: &Signer, mut head: HttpResponse<()>, body: Bytes) -> HttpResponse {
    let (signature, date) = signer.sign_body(&body);
    let headers = head.headers_mut();
    for (name, value) in [(SIGNATURE_HEADER, signature), (SIGNATURE_DATE_HEADER, date)] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    head.set_body(BoxBody::new(body))
}
