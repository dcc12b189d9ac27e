//! `GET /producer/keys`, `POST /producer/keys`, `DELETE /producer/keys/{key_id}`: the
//! producer's public keys (issue 16, item 4; DESIGN, "Producer credentials and environments").
//!
//! A producer logs in with any of its keys (the PEM private key, or an assertion signed with
//! it). Keys are added as public keys only: the private half never reaches Sealpost. Removing
//! a key stops it logging in and revokes, in the same transaction, every login session it
//! opened, so its tokens stop working at once on every API process; the last key cannot be
//! removed (409), or the producer could never log in again.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use schema::RepoError;
use schema::repo::{KeyRemoval, MAX_KEYS_PER_PRODUCER, ProducerKey, UniqueKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Admin, Authorized};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::openapi::schemas::{self, NewProducerKey, ProducerKeys};
use crate::representation::rfc3339;

/// An Ed25519 SubjectPublicKeyInfo up to the key (RFC 8410 §4): `SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 }, BIT STRING (33 bytes, 0 unused bits) }`, what `openssl pkey -pubout` writes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The PEM label of a SubjectPublicKeyInfo.
const PUBLIC_KEY_TAG: &str = "PUBLIC KEY";

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/producer/keys")
                .route(web::get().to(list_keys))
                .route(web::post().to(add_key)),
        )
        .service(web::resource("/producer/keys/{key_id}").route(web::delete().to(remove_key)));
}

/// The producer's public keys, oldest first: 200 with `{"keys": [{"keyId", "publicKey",
/// "publicKeyPem", "created"}]}` (`publicKey`: the raw 32 bytes in base64; `publicKeyPem`:
/// the SubjectPublicKeyInfo PEM). Scope `admin`.
#[utoipa::path(
    get,
    path = "/producer/keys",
    operation_id = "listProducerKeys",
    tag = "producer",
    responses((status = 200, description = "The producer's public keys", body = ProducerKeys)),
)]
pub async fn list_keys(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
) -> Result<HttpResponse, ApiError> {
    let keys = context.repo.producer_keys(&principal.producer).await?;
    let keys: Vec<Value> = keys.iter().map(describe).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "keys": keys })))
}

/// `POST /producer/keys`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewKey {
    public_key: String,
}

/// Adds a public key to the producer: JSON `{"publicKey": …}`, either the SubjectPublicKeyInfo
/// PEM that `openssl pkey -pubout` writes (`-----BEGIN PUBLIC KEY-----`) or the raw 32-byte
/// Ed25519 key in base64 (standard or URL-safe, padded or not). 201 with the key's
/// description (its `keyId`) and `Location`; 400 for a body that is not that JSON; 422 naming
/// `publicKey` when it is not an Ed25519 public key; 409 when the key is already a producer's
/// (this one's or another's), or when the producer holds 20 keys already. Scope `admin`.
#[utoipa::path(
    post,
    path = "/producer/keys",
    operation_id = "addProducerKey",
    tag = "producer",
    request_body(content = NewProducerKey, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = schemas::ProducerKey,
            headers(("Location" = String, description = "`{apiRoot}/producer/keys/{keyId}`"))),
        (status = 400, description = "Not that JSON"),
        (status = 409, description = "The key is registered already, or the producer holds 20"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "Not an Ed25519 public key"),
    ),
)]
pub async fn add_key(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = crate::form::opened_body(&request, body, "publicKey")?;
    let request: NewKey = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "publicKey",
            "the body must be JSON {\"publicKey\": SPKI PEM or base64 of the 32-byte Ed25519 key}",
        )
    })?;
    let key = ProducerKey {
        id: ProducerKey::new_id(),
        producer_id: principal.producer.clone(),
        public_key: parse_public_key(&request.public_key)?,
        created_at: Utc::now(),
    };
    let added = (context.repo.add_producer_key(&key).await).map_err(|error| match error {
        RepoError::Conflict {
            what: UniqueKey::ProducerKeyPublicKey,
        } => ApiError::Conflict("this public key is already registered".into()),
        other => other.into(),
    })?;
    if !added {
        return Err(ApiError::Conflict(format!(
            "the producer holds {MAX_KEYS_PER_PRODUCER} keys, the most it may: remove one first"
        )));
    }
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("{}/producer/keys/{}", context.links.api_root, key.id),
        ))
        .json(describe(&key)))
}

/// Removes one of the producer's keys: it stops logging in, and every token it issued stops
/// working at once. 204; 404 for an unknown key id (another producer's included); 409 when it
/// is the producer's last key. Scope `admin`.
#[utoipa::path(
    delete,
    path = "/producer/keys/{key_id}",
    operation_id = "removeProducerKey",
    tag = "producer",
    params(("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Removed; its tokens stop working"),
        (status = 404, description = "No such key"),
        (status = 409, description = "The producer's last key"),
    ),
)]
pub async fn remove_key(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
    key_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let removal = (context.repo)
        .remove_producer_key(&principal.producer, &key_id, Utc::now())
        .await?;
    match removal {
        KeyRemoval::Removed { .. } => Ok(HttpResponse::NoContent().finish()),
        KeyRemoval::Unknown => Err(ApiError::NotFound),
        KeyRemoval::LastKey => Err(ApiError::Conflict(
            "this is the producer's last key: add another before removing it".into(),
        )),
    }
}

/// A key as the API shows it.
fn describe(key: &ProducerKey) -> Value {
    json!({
        "keyId": key.id,
        "publicKey": STANDARD.encode(&key.public_key),
        "publicKeyPem": spki_pem(&key.public_key),
        "created": rfc3339(key.created_at),
    })
}

/// The SubjectPublicKeyInfo PEM of a raw Ed25519 public key, with `\n` line ends, as
/// `openssl pkey -pubout` writes it.
pub fn spki_pem(public_key: &[u8]) -> String {
    let der = [SPKI_PREFIX.as_slice(), public_key].concat();
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(PUBLIC_KEY_TAG, der), config)
}

/// The raw 32-byte key of an SPKI PEM or of base64 text (422 naming `publicKey` otherwise).
pub fn parse_public_key(text: &str) -> Result<Vec<u8>, ApiError> {
    let text = text.trim();
    let raw = if text.starts_with("-----BEGIN") {
        let block = pem::parse(text).map_err(|_| not_a_key("not a PEM block"))?;
        if block.tag() != PUBLIC_KEY_TAG {
            return Err(not_a_key(
                "a PEM public key (-----BEGIN PUBLIC KEY-----) is expected, never a private key",
            ));
        }
        (block.contents().strip_prefix(SPKI_PREFIX.as_slice()))
            .ok_or_else(|| not_a_key("not an Ed25519 SubjectPublicKeyInfo"))?
            .to_vec()
    } else {
        let unpadded = text
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_");
        URL_SAFE_NO_PAD
            .decode(unpadded)
            .map_err(|_| not_a_key("neither a PEM public key nor base64"))?
    };
    if raw.len() != 32 {
        return Err(not_a_key("an Ed25519 public key is 32 bytes"));
    }
    Ok(raw)
}

fn not_a_key(detail: &str) -> ApiError {
    ApiError::invalid("publicKey", detail)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn public_keys_parse_from_spki_pem_and_base64() {
        let key = shared::keys::SigningKey::generate().unwrap();
        let raw = key.public_key().to_vec();
        assert_eq!(parse_public_key(&spki_pem(&raw)).unwrap(), raw);
        assert_eq!(parse_public_key(&STANDARD.encode(&raw)).unwrap(), raw);
        assert_eq!(
            parse_public_key(&URL_SAFE_NO_PAD.encode(&raw)).unwrap(),
            raw
        );
        assert!(parse_public_key(&key.to_pem()).is_err(), "a private key");
        assert!(parse_public_key(&STANDARD.encode(&raw[..31])).is_err());
        assert!(parse_public_key("not base64!").is_err());
        assert!(
            parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
    }
}
