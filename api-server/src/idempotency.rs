//! `Idempotency-Key` (IETF httpapi draft) on `POST /documents`, `POST /documents/{docId}` and
//! `POST /documents/{docId}/deliver` (DESIGN, "Producer API details the spec lost"): a client
//! that retries over a flaky network never creates a second document or a second delivery.
//!
//! A key belongs to the producer and the environment (live/test) of the credential that sent
//! it. The first request with a key reserves it (one atomic insert: of concurrent requests
//! with one key exactly one proceeds, the others get 409) and runs; a 2xx answer is kept for
//! [`KEPT_FOR`] with the request's method, path and body fingerprint (`fingerprint`: SHA-256
//! of the body as streamed, its multipart boundary taken out); any other answer
//! (an error, or a client gone mid-upload) releases the key, so a corrected request may use it
//! again. A later request with the key:
//! - same method, path and body fingerprint: the kept answer (status, `Location`,
//!   `Content-Location`, `Last-Modified`, `ETag`, `Cache-Control`, `Content-Type`, body), with
//!   `Idempotent-Replayed: true` and nothing done again; signed afresh by the signing
//!   middleware (and encrypted afresh for a payload-encryption key), like any answer;
//! - anything else: 422 naming the header.
//!
//! A reservation is kept alive by a heartbeat (`hold`); one whose process died is taken over
//! after [`ABANDONED_AFTER`]. Expired keys are deleted by the next reservation.

mod body;
mod fingerprint;
mod hold;
mod kept;
pub mod key;

use std::future::Future;

use actix_web::web::Payload;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{TimeDelta, Utc};
use futures_util::StreamExt as _;
use schema::repo::idempotency::{CompletedRequest, IdempotencySlot, KeyReservation, Reserve};

pub use body::Body;
pub use kept::REPLAYED_HEADER;

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;
use body::HashedBody;
use hold::Held;
use key::HEADER;

/// The routes that honour the header, `(method, path pattern)` as in `crate::routes::ROUTES`
/// (the OpenAPI document describes the header on each).
pub const ROUTES: [(&str, &str); 3] = [
    ("POST", "/documents"),
    ("POST", "/documents/{doc_id}"),
    ("POST", "/documents/{doc_id}/deliver"),
];

/// How long a key is remembered after its answer (DESIGN: 24 hours).
pub const KEPT_FOR: TimeDelta = TimeDelta::hours(24);

/// A reservation not kept alive for this long belongs to a request whose process died.
pub const ABANDONED_AFTER: TimeDelta = TimeDelta::minutes(5);

/// What is read after a successful handler stopped reading: the epilogue of a multipart body
/// is a few bytes; a body that goes on for more is not kept (the answer is still sent).
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Runs `work` on the request's body under its `Idempotency-Key`, if it has one (module docs).
pub async fn run<W, F>(
    context: &ApiContext,
    principal: &Principal,
    request: &HttpRequest,
    payload: Payload,
    work: W,
) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(Body) -> F,
    F: Future<Output = Result<HttpResponse, ApiError>>,
{
    let Some(key) = key::from_request(request)? else {
        return work(payload.boxed_local()).await;
    };
    let slot = IdempotencySlot {
        producer: &principal.producer,
        environment: principal.environment,
        key: &key,
    };
    let now = Utc::now();
    let (method, path) = (request.method().as_str(), request.path());
    let reserve = Reserve {
        method,
        path,
        now,
        expires_at: now + KEPT_FOR,
        abandoned_before: now - ABANDONED_AFTER,
    };
    match context.repo.reserve_idempotency_key(slot, reserve).await? {
        KeyReservation::Reserved => {
            let held = Held::new(context.repo.clone(), slot);
            first(held, HashedBody::new(request, payload), work).await
        }
        KeyReservation::InProgress => Err(ApiError::Conflict(format!(
            "{HEADER}: a request with this key is still in progress; retry once it is answered"
        ))),
        KeyReservation::Completed(done) => {
            let body = HashedBody::new(request, payload);
            replay(&done, method, path, body, replay_limit(context)).await
        }
    }
}

/// The first request with the key: the work, then its answer kept (2xx) or the key released.
async fn first<W, F>(held: Held, body: HashedBody, work: W) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(Body) -> F,
    F: Future<Output = Result<HttpResponse, ApiError>>,
{
    let response = match work(body.stream()).await {
        Ok(response) if response.status().is_success() => response,
        other => {
            held.release().await;
            return other;
        }
    };
    let Some(digest) = body.finish(DRAIN_LIMIT).await else {
        held.release().await;
        return Ok(response);
    };
    let (response, kept) = kept::keep(response);
    match kept {
        Some(kept) => {
            if let Err(error) = held.complete(&digest, &kept).await {
                // The work is done: answer it; the key is released, as after a failure.
                tracing::error!(error = %error, "an idempotent answer could not be kept");
            }
        }
        None => held.release().await,
    }
    Ok(response)
}

/// A request with a key answered before: the kept answer when it is the same request.
async fn replay(
    done: &CompletedRequest,
    method: &str,
    path: &str,
    body: HashedBody,
    limit: u64,
) -> Result<HttpResponse, ApiError> {
    let mismatch = || {
        ApiError::invalid(
            HEADER,
            "this key was used for a different request (method, path or body) in the last 24 \
             hours; use a new key for a new request",
        )
    };
    if done.method != method || done.path != path {
        return Err(mismatch());
    }
    let digest = body.finish(limit).await;
    if digest.as_deref() != Some(done.body_sha256.as_str()) {
        return Err(mismatch());
    }
    Ok(kept::replay(&done.response))
}

/// The largest body a replay reads to compare it: a request larger than any the API accepts
/// cannot be the one answered.
fn replay_limit(context: &ApiContext) -> u64 {
    let parts = 8 * context.limits.max_json_part_bytes as u64;
    context.limits.max_document_bytes + parts + DRAIN_LIMIT
}
