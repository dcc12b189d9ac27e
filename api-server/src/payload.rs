//! Payload encryption (issue 17, item 2; DESIGN, "Payload encryption (seed 000)").
//!
//! An API key created with `"encryption": true` has a payload key: HKDF-SHA256 of the key
//! string (salt `sealpost payload v1`, empty info), 32 bytes, derived when the key verifies and
//! cached with the verification ([`PayloadKey::derive`]); it is never stored or logged. With
//! such a key, a request's JSON body and the JSON parts of a multipart upload (`audience`,
//! `challenge`, `fulfillment`, `landingpage`, `metadata`) travel sealed, and so does every JSON
//! or problem+json answer: `Content-Type: text/plain` holding base64 (standard, padded) of
//! `nonce (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes)`, a random nonce per message,
//! with associated data `{METHOD} {path-and-query}` for a request (`POST /keys`) and
//! `{status} {METHOD} {path-and-query}` for an answer (`201 POST /keys`): a sealed body only
//! opens on the request it was made for, and an answer only as the answer to that request with
//! that status.
//!
//! Document content (an upload's `document` part, `PUT …/document`, downloads) and the logs
//! zip stay binary: they are large, they are binary already (base64 would add a third), they
//! are protected by TLS in transit, encrypted at rest by the vault and signed (the stored
//! content signature, the zip's `manifest.sig`), so a second envelope would cost much and add
//! little.
//!
//! # One place each way
//! - Answers: the [`seal_answers`] middleware (inside the signing middleware, so signatures
//!   cover the sealed bytes sent) opens a per-request `Seal` in a task-local; API-key
//!   authentication fills in the key ([`admit`]) once the key verified and requires
//!   encryption; the middleware seals the answer when a key is there. A request whose
//!   credential could not be established (401) has none: its answer is plain.
//! - Requests: the body readers of [`crate::form`] ask [`opener`] for the request's key and
//!   open the body or part before parsing it, so validation only ever sees plaintext.
//!
//! A body that is not sealed (a plain JSON one) or does not open (tampered, another request's,
//! another key's) is refused with 400 before anything changes, and that refusal is **plain**
//! problem+json: a client that cannot seal, or seals wrongly, can read why.

use std::cell::RefCell;
use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::Next;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom as _, SystemRandom};
use shared::content_signature::{SIGNATURE_DATE_HEADER, SIGNATURE_HEADER};

use crate::error::ApiError;

/// The HKDF salt of the payload key (DESIGN).
pub const HKDF_SALT: &[u8] = b"sealpost payload v1";
/// The media type of a sealed body.
pub const SEALED_MEDIA_TYPE: &str = "text/plain";
/// Bytes a sealed message adds to its plaintext before base64: the nonce and the tag.
pub const OVERHEAD: usize = NONCE_LEN + 16;

/// The AES-256-GCM key of an API key created with `"encryption": true`.
#[derive(Clone)]
pub struct PayloadKey(Arc<LessSafeKey>);

impl std::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadKey(..)")
    }
}

/// A sealed body that would not open; nothing more is said (the cause is the client's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unopened;

impl PayloadKey {
    /// HKDF-SHA256 of the API key string, salt [`HKDF_SALT`], empty info, 32 bytes.
    pub fn derive(api_key: &str) -> Self {
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(api_key.as_bytes());
        // Expanding 32 bytes from SHA-256 never exceeds HKDF's 255-block bound.
        let okm = prk
            .expand(&[], &AES_256_GCM)
            .unwrap_or_else(|_| unreachable!("HKDF-SHA256 expands 32 bytes"));
        Self(Arc::new(LessSafeKey::new(UnboundKey::from(okm))))
    }

    /// base64(nonce ‖ ciphertext ‖ tag) of `plain` under associated data `aad`, with a fresh
    /// random nonce.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| ApiError::internal("no randomness for a payload nonce"))?;
        let mut sealed = Vec::with_capacity(plain.len() + OVERHEAD);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plain);
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| ApiError::internal("sealing a payload failed"))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(STANDARD.encode(sealed))
    }

    /// The plaintext of base64 text `sealed` (surrounding whitespace ignored) under `aad`.
    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, Unopened> {
        let text = sealed.trim_ascii();
        let mut bytes = STANDARD.decode(text).map_err(|_| Unopened)?;
        if bytes.len() < OVERHEAD {
            return Err(Unopened);
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).map_err(|_| Unopened)?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| Unopened)?;
        Ok(plain.to_vec())
    }
}

/// A request's associated data: `{METHOD} {path-and-query}`.
pub fn request_aad(method: &Method, uri: &Uri) -> String {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |target| target.as_str());
    format!("{method} {target}")
}

/// An answer's associated data: `{status} {METHOD} {path-and-query}`.
pub fn answer_aad(status: StatusCode, request_aad: &str) -> String {
    format!("{} {request_aad}", status.as_u16())
}

/// The request being served: its associated data and, once its API key verified and requires
/// encryption, its payload key.
struct Seal {
    aad: String,
    key: RefCell<Option<PayloadKey>>,
}

tokio::task_local! {
    static SEAL: Seal;
}

/// Called by API-key authentication once a key requiring encryption verified: the request's
/// bodies must be sealed and its answer will be. Fails (500) outside [`seal_answers`], so a
/// server built without the middleware can never answer such a key in clear.
pub fn admit(key: &PayloadKey) -> Result<(), ApiError> {
    SEAL.try_with(|seal| *seal.key.borrow_mut() = Some(key.clone()))
        .map_err(|_| ApiError::internal("payload encryption middleware missing"))
}

/// The request's key and associated data, when its credential requires encryption.
pub fn opener() -> Option<Opener> {
    SEAL.try_with(|seal| {
        let key = seal.key.borrow().clone()?;
        Some(Opener {
            key,
            aad: seal.aad.clone(),
        })
    })
    .ok()
    .flatten()
}

/// Forgets the request's key: its answer goes out plain (a refused envelope).
fn answer_plain() {
    let _outside = SEAL.try_with(|seal| seal.key.borrow_mut().take());
}

/// Opens the sealed bodies of one request.
pub struct Opener {
    key: PayloadKey,
    aad: String,
}

impl Opener {
    /// The plaintext of `field` (a body or a part), sealed in `body`. `declared_json`: the
    /// sender labelled it `application/json`, i.e. sent it plain. 400 naming `field` when it
    /// is plain or does not open; the answer to the request is then plain too.
    pub fn open(&self, field: &str, body: &[u8], declared_json: bool) -> Result<Vec<u8>, ApiError> {
        let text = body.trim_ascii();
        let plain_json = text.starts_with(b"{") || text.starts_with(b"[") || text == b"null";
        if declared_json || plain_json {
            answer_plain();
            return Err(ApiError::bad_request(
                field,
                "this API key requires payload encryption: send it as text/plain holding \
                 base64(nonce ‖ AES-256-GCM ciphertext ‖ tag)",
            ));
        }
        self.key.open(&self.aad, text).map_err(|Unopened| {
            answer_plain();
            ApiError::bad_request(
                field,
                format!(
                    "does not decrypt with this API key's payload key and associated data {:?}",
                    self.aad
                ),
            )
        })
    }

    /// The most bytes a sealed body may take for a plaintext limit of `plain` bytes (base64 of
    /// the plaintext and [`OVERHEAD`], and a line end).
    pub fn sealed_limit(plain: usize) -> usize {
        (plain + OVERHEAD).div_ceil(3) * 4 + 2
    }
}

/// Whether an answer is sealed: JSON and problem+json ones, but never document content (a
/// download answering 2xx or 3xx carries the document's own media type, which may be JSON).
fn is_sealed_answer(response: &ServiceResponse<BoxBody>) -> bool {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<mime::Mime>().ok())
        .is_some_and(|mime| {
            mime.essence_str() == "application/json" || mime.suffix() == Some(mime::JSON)
        });
    let content = response.request().match_pattern().as_deref() == Some(CONTENT_ROUTE)
        && response.request().method() == Method::GET
        && !(response.status().is_client_error() || response.status().is_server_error());
    json && !content
}

/// The route whose successful answers are the document itself.
const CONTENT_ROUTE: &str = "/documents/{doc_id}/document";

/// The middleware: opens the request's `Seal` and, when authentication put a payload key in
/// it, seals a JSON or problem+json answer (`Content-Type: text/plain`, base64).
pub async fn seal_answers(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let aad = request_aad(request.method(), request.uri());
    let seal = Seal {
        aad: aad.clone(),
        key: RefCell::new(None),
    };
    let (result, key) = SEAL
        .scope(seal, async move {
            let result = next.call(request).await;
            (result, SEAL.with(|seal| seal.key.borrow_mut().take()))
        })
        .await;
    // An error from within is no answer yet (the handler service turns every handler and
    // extractor error into a response, so none arrives here in practice): it passes.
    let response = result?;
    match key {
        Some(key) if is_sealed_answer(&response) => Ok(sealed(response, &key, &aad).await),
        _ => Ok(response),
    }
}

/// `response` with its body sealed under `{status} {request aad}`; a body that cannot be read
/// or sealed becomes a plain 500 (never the plaintext).
async fn sealed(
    response: ServiceResponse<BoxBody>,
    key: &PayloadKey,
    aad: &str,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    let sealed = match actix_web::body::to_bytes(body).await {
        Ok(plain) => key.seal(&answer_aad(status, aad), &plain),
        Err(_) => Err(ApiError::internal("an answer's body could not be read")),
    };
    match sealed {
        Ok(text) => {
            let mut response = response.set_body(BoxBody::new(text));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SEALED_MEDIA_TYPE),
            );
            response.headers_mut().remove(header::CONTENT_LENGTH);
            // A signature made over the plaintext (a streamed answer signed by its handler)
            // no longer covers the bytes sent: the signing middleware signs the sealed ones.
            for name in [SIGNATURE_HEADER, SIGNATURE_DATE_HEADER] {
                response.headers_mut().remove(name);
            }
            ServiceResponse::new(request, response)
        }
        Err(error) => ServiceResponse::new(request, HttpResponse::from_error(error)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A vector made with Python's `cryptography` (HKDF, AESGCM), an implementation other
    /// than this one: the format is DESIGN's, not this module's reading of it.
    #[test]
    fn a_vector_from_another_implementation_opens() {
        let key = PayloadKey::derive(VECTOR_KEY);
        let plain = key.open(VECTOR_AAD, VECTOR_SEALED.as_bytes()).unwrap();
        assert_eq!(plain, VECTOR_PLAIN.as_bytes());
    }

    #[test]
    fn sealed_bodies_open_only_under_their_key_and_associated_data() {
        let key = PayloadKey::derive("sp_live_key_secret");
        let sealed = key.seal("POST /keys", b"{\"a\":1}").unwrap();
        assert_ne!(
            sealed,
            key.seal("POST /keys", b"{\"a\":1}").unwrap(),
            "nonces"
        );
        assert_eq!(
            key.open("POST /keys", sealed.as_bytes()).unwrap(),
            b"{\"a\":1}"
        );
        assert_eq!(key.open("POST /keys?x", sealed.as_bytes()), Err(Unopened));
        let other = PayloadKey::derive("sp_live_key_secreT");
        assert_eq!(other.open("POST /keys", sealed.as_bytes()), Err(Unopened));
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        bytes[NONCE_LEN] ^= 1;
        let tampered = STANDARD.encode(bytes);
        assert_eq!(key.open("POST /keys", tampered.as_bytes()), Err(Unopened));
        for junk in ["", "AAAA", "not base64!", "{\"a\":1}"] {
            assert_eq!(key.open("POST /keys", junk.as_bytes()), Err(Unopened));
        }
    }

    #[test]
    fn associated_data_is_method_path_and_query() {
        let uri: Uri = "/documents/abc/links?x=1".parse().unwrap();
        let aad = request_aad(&Method::POST, &uri);
        assert_eq!(aad, "POST /documents/abc/links?x=1");
        assert_eq!(
            answer_aad(StatusCode::CREATED, &aad),
            "201 POST /documents/abc/links?x=1"
        );
    }

    const VECTOR_KEY: &str = "sp_live_0123456789abcdef_vectorsecret";
    const VECTOR_AAD: &str = "201 POST /keys";
    const VECTOR_PLAIN: &str = r#"{"name":"vector","scopes":["read"]}"#;
    /// Nonce 00 01 … 0b.
    const VECTOR_SEALED: &str =
        "AAECAwQFBgcICQoLjot74nXDqsuQ/mGsWnFbYAPsmcVICWzdgz+CRmtX9FBmDotntRI4OYSrHFsFWMKAjzCl";
}
