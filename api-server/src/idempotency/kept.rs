//! An answer kept for replay, and the replay itself.

use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody as _};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use schema::repo::idempotency::StoredResponse;

/// The headers a replay repeats: where the result is, what it is, and how it may be cached.
/// The signature headers are not kept: the signing middleware signs the replay afresh.
const KEPT_HEADERS: [HeaderName; 6] = [
    header::LOCATION,
    header::CONTENT_LOCATION,
    header::LAST_MODIFIED,
    header::ETAG,
    header::CACHE_CONTROL,
    header::CONTENT_TYPE,
];

/// Marks a replayed answer (as Stripe's API does; the draft leaves it open), so a client can
/// tell that no work was done this time.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// `response` as it will be sent, and its kept form: `None` for a body not held in memory
/// (the three routes always answer a small JSON body, so this does not happen).
pub fn keep(response: HttpResponse) -> (HttpResponse, Option<StoredResponse>) {
    let (head, body) = response.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        Err(body) => return (head.set_body(body), None),
    };
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = head.headers().get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let stored = StoredResponse {
        status: head.status().as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    (head.set_body(BoxBody::new(bytes)), Some(stored))
}

/// The kept answer, again.
pub fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            builder.insert_header((name, value));
        }
    }
    builder
        .insert_header((REPLAYED_HEADER, "true"))
        .body(stored.body.clone())
}
