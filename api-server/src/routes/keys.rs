//! `POST /keys`, `GET /keys`, `DELETE /keys/{name}`: the producer's API keys (issue 16).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use schema::repo::{ApiKeyRecord, KeyRate, UniqueKey};
use schema::{Environment, RepoError, Scope, Scopes};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::method_not_allowed;
use crate::auth::api_key::secret;
use crate::auth::{Admin, Authorized, Credential, Principal};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form;
use crate::openapi::schemas::{ApiKeys, CreatedApiKey, NewApiKey};
use crate::representation::rfc3339;

/// The largest `POST /keys` body.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest key name.
const MAX_NAME_CHARS: usize = 64;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/keys")
                .route(web::post().to(create))
                .route(web::get().to(list))
                .default_service(method_not_allowed("GET, POST")),
        )
        .service(
            web::resource("/keys/{name}")
                .route(web::delete().to(revoke))
                .default_service(method_not_allowed("DELETE")),
        );
}

/// Creates an API key. Scope `admin`.
///
/// Request `application/json` (415 otherwise; at most 16 KiB, 413):
/// `{"name", "scopes", "environment", "expires", "encryption", "rateLimit"}`:
/// - `name` (required): 1 to 64 of `A-Z a-z 0-9 . _ -`, unique among the producer's unrevoked
///   keys (409 when taken; a revoked key's name may be reused);
/// - `scopes` (required): a non-empty array of `read`, `write`, `deliver`, `logs`, `admin`;
/// - `environment`: `live` or `test`, by default the calling credential's;
/// - `expires`: RFC 3339, in the future, or `null` (the default: never);
/// - `encryption`: `false` (the default) or `true`: payload encryption (DESIGN, "Payload
///   encryption"): with the key, JSON bodies and JSON parts are sent sealed and JSON answers
///   come back sealed ([`crate::payload`]);
/// - `rateLimit`: `{"perSecond", "burst"}`, positive integers, or `null` (the default: the
///   instance's `api.rate_per_sec` and `api.rate_burst`).
///
/// A key never grants more than the credential creating it holds: 403 for a scope the caller
/// lacks; an API key (with `admin`) creates keys of its own environment only, expiring no
/// later than itself (by default when it does). A login token may create keys of either
/// environment. Anything else malformed is 400 or 422 naming the field (`rateLimit.burst`).
///
/// Response 201, `Cache-Control: no-store`: the key's description (as in `GET /keys`) plus,
/// this once only, `"key": "sp_{environment}_{keyId}_{secret}"` and `"bearer"`:
/// base64(`name:key`), for `Authorization: Bearer {bearer}`. Only an argon2id hash is kept: a
/// lost key cannot be shown again (revoke it and create another).
#[utoipa::path(
    post,
    path = "/keys",
    operation_id = "createApiKey",
    tag = "keys",
    request_body(content = NewApiKey, content_type = "application/json"),
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedApiKey,
            links(("RevokeApiKey" = (operation_id = "revokeApiKey", parameters(("name" = "$response.body#/name")))))),
        (status = 400, description = "Not a JSON object, or an unknown field"),
        (status = 409, description = "The name is taken by an unrevoked key"),
        (status = 413, description = "Larger than 16 KiB"),
        (status = 415, description = "Not application/json"),
        (status = 422, description = "A field that does not validate (named in `field`)"),
    ),
)]
pub async fn create(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = form::read_json_body(&request, body, "body", MAX_BODY_BYTES)
        .await?
        .ok_or_else(|| ApiError::bad_request("body", "a JSON object is required"))?;
    let mut wanted = NewKey::parse(&body, principal.environment)?;
    within_creator(&context, &principal, &mut wanted).await?;
    let new = secret::generate(wanted.environment)?;
    let record = ApiKeyRecord {
        secret_hash: secret::hash(new.key.clone()).await?,
        id: new.id,
        producer_id: principal.producer.clone(),
        name: wanted.name,
        environment: wanted.environment,
        scopes: wanted.scopes,
        encryption: wanted.encryption,
        rate_limit: wanted.rate,
        created_at: Utc::now(),
        expires_at: wanted.expires,
        last_used_at: None,
        revoked_at: None,
    };
    insert(&context, &record).await?;
    let bearer = Zeroizing::new(STANDARD.encode(format!("{}:{}", record.name, new.key.as_str())));
    let mut described = describe(&record);
    described["key"] = Value::String(new.key.to_string());
    described["bearer"] = Value::String(bearer.to_string());
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(described))
}

/// Stores a new key; a name an unrevoked key holds already is 409.
async fn insert(context: &ApiContext, record: &ApiKeyRecord) -> Result<(), ApiError> {
    context
        .repo
        .insert_api_key(record)
        .await
        .map_err(|error| match error {
            RepoError::Conflict {
                what: UniqueKey::ApiKeyName,
            } => ApiError::Conflict(format!("an API key named {:?} exists already", record.name)),
            other => other.into(),
        })
}

/// The producer's API keys, revoked ones included, oldest first. Scope `admin`.
///
/// Response 200 `{"keys": [{"id", "name", "environment", "scopes", "encryption", "rateLimit",
/// "created", "expires", "lastUsed", "revoked"}, …]}`: times RFC 3339 or `null`; `lastUsed`
/// is accurate to a minute (it is written at most once a minute per key); never a key or a
/// hash.
#[utoipa::path(
    get,
    path = "/keys",
    operation_id = "listApiKeys",
    tag = "keys",
    responses((status = 200, description = "The producer's API keys", body = ApiKeys)),
)]
pub async fn list(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
) -> Result<HttpResponse, ApiError> {
    let keys = context.repo.api_keys_of(&principal.producer).await?;
    let keys: Vec<Value> = keys.iter().map(describe).collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "keys": keys })))
}

/// Revokes the producer's unrevoked key called `{name}`, at once and for every API process
/// sharing the database (each request reads its key's row). Scope `admin`.
///
/// Response 204; 404 when the producer holds no unrevoked key of that name. A key may revoke
/// itself.
#[utoipa::path(
    delete,
    path = "/keys/{name}",
    operation_id = "revokeApiKey",
    tag = "keys",
    params(("name" = String, Path, description = "The key's name")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No unrevoked key of that name"),
    ),
)]
pub async fn revoke(
    context: web::Data<ApiContext>,
    principal: Authorized<Admin>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = context
        .repo
        .revoke_api_key(&principal.producer, &name, Utc::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    context.auth.keys.forget(&id);
    Ok(HttpResponse::NoContent().finish())
}

/// A key's description, as `GET /keys` lists it.
fn describe(key: &ApiKeyRecord) -> Value {
    let scopes: Vec<&str> = key.scopes.iter().map(Scope::as_str).collect();
    json!({
        "id": key.id,
        "name": key.name,
        "environment": key.environment.as_str(),
        "scopes": scopes,
        "encryption": key.encryption,
        "rateLimit": key.rate_limit.map(|rate| json!({
            "perSecond": rate.per_second,
            "burst": rate.burst,
        })),
        "created": rfc3339(key.created_at),
        "expires": key.expires_at.map(rfc3339),
        "lastUsed": key.last_used_at.map(rfc3339),
        "revoked": key.revoked_at.map(rfc3339),
    })
}

/// What `POST /keys` asks for, validated.
#[derive(Debug)]
struct NewKey {
    name: String,
    scopes: Scopes,
    environment: Environment,
    expires: Option<DateTime<Utc>>,
    rate: Option<KeyRate>,
    /// Payload encryption ([`crate::payload`]).
    encryption: bool,
}

impl NewKey {
    /// `default_environment`: the creator's, when the body names none.
    fn parse(body: &Value, default_environment: Environment) -> Result<Self, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::bad_request("body", "a JSON object is required"))?;
        const FIELDS: [&str; 6] = [
            "name",
            "scopes",
            "environment",
            "expires",
            "encryption",
            "rateLimit",
        ];
        if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
            return Err(ApiError::bad_request(unknown, "unknown field"));
        }
        let encryption = match present(object, "encryption") {
            None => false,
            Some(value) => value
                .as_bool()
                .ok_or_else(|| ApiError::invalid("encryption", "must be true or false"))?,
        };
        Ok(Self {
            encryption,
            name: name(object)?,
            scopes: scopes(object)?,
            environment: match present(object, "environment") {
                None => default_environment,
                Some(value) => {
                    (value.as_str().and_then(|text| text.parse().ok())).ok_or_else(|| {
                        ApiError::invalid("environment", "must be \"live\" or \"test\"")
                    })?
                }
            },
            expires: expires(object)?,
            rate: rate(object)?,
        })
    }
}

/// The field's value, `None` when absent or `null`.
fn present<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    object.get(field).filter(|value| !value.is_null())
}

fn name(object: &Map<String, Value>) -> Result<String, ApiError> {
    let name = present(object, "name")
        .ok_or_else(|| ApiError::invalid("name", "is required"))?
        .as_str()
        .ok_or_else(|| ApiError::invalid("name", "must be a string"))?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(allowed) {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
        ));
    }
    Ok(name.to_owned())
}

fn scopes(object: &Map<String, Value>) -> Result<Scopes, ApiError> {
    let list = present(object, "scopes")
        .ok_or_else(|| ApiError::invalid("scopes", "is required"))?
        .as_array()
        .filter(|list| !list.is_empty())
        .ok_or_else(|| ApiError::invalid("scopes", "must be a non-empty array"))?;
    list.iter()
        .enumerate()
        .map(|(i, value)| {
            value.as_str().and_then(Scope::parse).ok_or_else(|| {
                ApiError::invalid(
                    &format!("scopes[{i}]"),
                    "must be one of read, write, deliver, logs, admin",
                )
            })
        })
        .collect()
}

fn expires(object: &Map<String, Value>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = present(object, "expires") else {
        return Ok(None);
    };
    let time = value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .ok_or_else(|| ApiError::invalid("expires", "must be an RFC 3339 date-time"))?
        .with_timezone(&Utc);
    if time <= Utc::now() {
        return Err(ApiError::invalid("expires", "must be in the future"));
    }
    Ok(Some(time))
}

fn rate(object: &Map<String, Value>) -> Result<Option<KeyRate>, ApiError> {
    let Some(value) = present(object, "rateLimit") else {
        return Ok(None);
    };
    let rate = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("rateLimit", "must be an object {perSecond, burst}"))?;
    if let Some(unknown) = rate
        .keys()
        .find(|key| !["perSecond", "burst"].contains(&key.as_str()))
    {
        return Err(ApiError::bad_request(
            &format!("rateLimit.{unknown}"),
            "unknown field",
        ));
    }
    let positive = |field: &str| {
        rate.get(field)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    &format!("rateLimit.{field}"),
                    "must be an integer from 1 to 4294967295",
                )
            })
    };
    Ok(Some(KeyRate {
        per_second: positive("perSecond")?,
        burst: positive("burst")?,
    }))
}

/// A key never grants more than its creator holds (403): no scope the creator lacks; an API
/// key creates keys of its own environment only, expiring no later than itself.
async fn within_creator(
    context: &ApiContext,
    principal: &Principal,
    wanted: &mut NewKey,
) -> Result<(), ApiError> {
    if let Some(scope) = wanted
        .scopes
        .iter()
        .find(|scope| !principal.scopes.contains(*scope))
    {
        return Err(ApiError::Forbidden(format!(
            "this credential does not hold the scope `{scope}` and cannot grant it"
        )));
    }
    let Credential::ApiKey { id, .. } = &principal.credential else {
        return Ok(());
    };
    if wanted.environment != principal.environment {
        return Err(ApiError::Forbidden(format!(
            "an API key of the {} environment cannot create keys of another",
            principal.environment
        )));
    }
    let creator = context.repo.api_key_by_id(id).await?;
    if let Some(limit) = creator.and_then(|creator| creator.expires_at) {
        match wanted.expires {
            None => wanted.expires = Some(limit),
            Some(expires) if expires > limit => {
                return Err(ApiError::Forbidden(
                    "an API key cannot create a key that expires after it does".to_owned(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
