//! The internal object API's handlers, under `/internal/v1/objects`:
//!
//! | request | answer |
//! | --- | --- |
//! | `POST ?max_size=N`, framed body ([`super::frames`]) | 201 `{"key", "size", "sha1"}`: stored and kept |
//! | `GET /{key}` | 200, the plaintext streamed, `Content-Length`, [`SHA1_HEADER`] |
//! | `DELETE /{key}` | 204: row (the wrapped data key) then blob |
//! | `DELETE /{key}/blob` | 204: only the blob, for callers that deleted the row themselves |
//!
//! Every request needs `Authorization: Bearer <service credential>` (401 otherwise), checked
//! before anything else so nothing about objects is learned without it.

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, guard, web};
use futures_util::StreamExt as _;
use schema::ObjectKey;
use serde::{Deserialize, Serialize};

use super::error::InternalError;
use super::frames::{self, Deframed};
use crate::http::VaultService;

/// Where the internal object API lives.
pub const OBJECTS_PATH: &str = "/internal/v1/objects";
/// Response header carrying the whole plaintext's SHA-1 (lowercase hex) on reads.
pub const SHA1_HEADER: &str = "x-sealpost-sha1";

/// The answer to a stored upload.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    pub key: String,
    pub size: u64,
    pub sha1: String,
}

#[derive(Debug, Deserialize)]
struct PutQuery {
    max_size: u64,
}

/// Mounts the API. The scope's guard lets requests in only when the service has a credential;
/// otherwise they fall through to the default service (404), as if nothing were mounted.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::scope(OBJECTS_PATH)
            .guard(guard::fn_guard(|context| {
                context
                    .app_data::<web::Data<VaultService>>()
                    .is_some_and(|service| service.credential.is_some())
            }))
            .route("", web::post().to(put))
            .route("/{key}", web::get().to(read))
            .route("/{key}", web::delete().to(delete))
            .route("/{key}/blob", web::delete().to(delete_blob)),
    );
}

/// A request that carried the service credential.
pub struct Caller;

impl FromRequest for Caller {
    type Error = InternalError;
    type Future = std::future::Ready<Result<Self, InternalError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let credential = request
            .app_data::<web::Data<VaultService>>()
            .and_then(|service| service.credential.as_ref());
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| bearer(value.as_bytes()));
        std::future::ready(match (credential, presented) {
            (Some(credential), Some(token)) if credential.matches(token) => Ok(Self),
            _ => Err(InternalError::Unauthenticated),
        })
    }
}

/// The token of a `Bearer` authorization (scheme case-insensitive, RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

fn object_key(text: &str) -> Result<ObjectKey, InternalError> {
    ObjectKey::parse(text).map_err(|_| InternalError::NotFound)
}

/// Streams the framed body into the vault. On an abandoned or broken body the vault deletes
/// what it wrote before this answers (400), so the caller's failure path can rely on it.
async fn put(
    _caller: Caller,
    service: web::Data<VaultService>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, InternalError> {
    let query = web::Query::<PutQuery>::from_query(request.query_string())
        .map_err(|_| InternalError::BadRequest("max_size must be given as a byte count"))?;
    let framed = request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes() == frames::MEDIA_TYPE.as_bytes());
    if !framed {
        return Err(InternalError::UnsupportedMediaType);
    }
    let object = service
        .vault
        .put(Deframed::new(body), query.max_size)
        .await?;
    let stored = Stored {
        key: object.key().to_string(),
        size: object.size(),
        sha1: object.sha1_hex().to_owned(),
    };
    // From here the caller owns it: it deletes the object if its record does not commit, and
    // an answer lost on the way is left to the orphan sweep (`vault.orphan_grace_secs`).
    object.keep();
    Ok(HttpResponse::Created().json(stored))
}

/// The whole plaintext. A segment failing authentication aborts the connection: the caller
/// sees a body shorter than its `Content-Length`, never a clean end.
async fn read(
    _caller: Caller,
    service: web::Data<VaultService>,
    path: web::Path<String>,
) -> Result<HttpResponse, InternalError> {
    let key = object_key(&path)?;
    let reader = service.vault.read(&key).await?;
    let stream = reader.stream.map(|item| {
        item.map_err(|error| {
            tracing::error!(error = %error, "object stream failed its integrity check");
            actix_web::error::ErrorInternalServerError("integrity")
        })
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((SHA1_HEADER, reader.sha1_hex))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(reader.size)
        .streaming(stream))
}

async fn delete(
    _caller: Caller,
    service: web::Data<VaultService>,
    path: web::Path<String>,
) -> Result<HttpResponse, InternalError> {
    service.vault.delete(&object_key(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_blob(
    _caller: Caller,
    service: web::Data<VaultService>,
    path: web::Path<String>,
) -> Result<HttpResponse, InternalError> {
    service.vault.delete_blob(&object_key(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_taken_from_the_header() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
    }
}
