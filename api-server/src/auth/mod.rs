//! Who is calling and what they may do (DESIGN, "Producer credentials and environments").
//!
//! Every producer route's handler takes an [`Authorized<S>`](scope::Authorized) whose `S` names
//! the scope the route needs, so a handler cannot reach a [`Principal`] without declaring one;
//! [`crate::routes::ROUTES`] lists every route with that scope, and [`authorize`] refuses
//! (500) a request whose route is missing from the list or declares another scope there, so the
//! end-to-end suite, which walks the list, catches a route added without one.
//!
//! One request is authorized in this order, each step in its own module:
//! 1. the credential presented ([`presented`]): a login token (`Basic base64(token)` or
//!    `Bearer token`, `token`) or an API key (`x-api-key: key` or `Bearer base64(name:key)`,
//!    [`api_key`]); none, or one that does not verify: 401 with `WWW-Authenticate`;
//! 2. the client's address against the producer's allowlist ([`client`]): 403;
//! 3. the credential's token bucket ([`rate`]): 429 with `Retry-After` and `RateLimit` headers;
//! 4. the route's scope: 403 naming it.

pub mod api_key;
pub mod client;
pub mod rate;
pub mod scope;
mod token;

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use schema::{Environment, ProducerId, Scope, Scopes};
use zeroize::Zeroizing;

use crate::access_log::Recorder;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::routes::{Access, ROUTES};

pub use scope::{Admin, Authenticated, Authorized, Deliver, Logs, Read, Write};
pub use token::{LoggedIn, Login, Proof, log_in};

/// Who is calling: the producer (tenant), the credential and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub producer: ProducerId,
    /// For the API log's 10th column: the operator's email given at login, or `key:{name}`
    /// for an API key.
    pub operator: String,
    pub credential: Credential,
    pub scopes: Scopes,
    /// The environment the credential acts in: it sees only that environment's documents.
    pub environment: Environment,
    /// The credential's token bucket.
    pub rate: RateLimit,
    /// An API key created with `"encryption": true`: its payload key ([`crate::payload`]).
    pub payload_key: Option<crate::payload::PayloadKey>,
    /// The request's access-log facts: handlers note the document the request names here.
    pub audit: Recorder,
}

/// The credential a request was authorized with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A login token: its id (the login session's `jti`).
    Token { jti: String },
    /// An API key: its id (the `keyId` of `sp_{env}_{keyId}_{secret}`) and name.
    ApiKey { id: String, name: String },
}

impl Credential {
    /// A stable name for per-credential state (rate-limit buckets): `token:{jti}`, `key:{id}`.
    pub fn bucket_key(&self) -> String {
        match self {
            Credential::Token { jti } => format!("token:{jti}"),
            Credential::ApiKey { id, .. } => format!("key:{id}"),
        }
    }
}

/// A token bucket's settings: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// The per-process state of authorization: the API-key verification cache, the rate-limit
/// buckets, and the rule that decides a client's address.
pub struct AuthState {
    pub keys: api_key::Verifier,
    pub rates: rate::Limiters,
    pub clients: client::ClientRule,
    /// A login token's bucket, and an API key's without its own `rateLimit`.
    pub default_rate: RateLimit,
}

impl AuthState {
    pub fn new(settings: &shared::config::ApiSettings) -> anyhow::Result<Self> {
        Ok(Self {
            keys: api_key::Verifier::new(),
            rates: rate::Limiters::new(),
            clients: client::ClientRule::new(&settings.trusted_proxies)?,
            default_rate: RateLimit {
                per_second: settings.rate_per_sec,
                burst: settings.rate_burst,
            },
        })
    }
}

/// The credential a request presents.
pub enum Presented {
    Token(Zeroizing<String>),
    /// `name` when sent as `Bearer base64(name:key)`, `None` for `x-api-key`.
    ApiKey {
        name: Option<String>,
        key: Zeroizing<String>,
    },
}

/// The header an API key travels in (seed 002).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Reads the credential of a request (401 when there is none, or it is malformed).
pub fn presented(req: &HttpRequest) -> Result<Presented, ApiError> {
    if let Some(value) = req.headers().get(API_KEY_HEADER) {
        let key = value
            .to_str()
            .map_err(|_| ApiError::Unauthenticated("the x-api-key header is not text"))?;
        return Ok(Presented::ApiKey {
            name: None,
            key: Zeroizing::new(key.trim().to_owned()),
        });
    }
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "an Authorization or x-api-key header is required",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("the Authorization header is not text"))?;
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(bearer(credentials))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(credentials)
            .map_err(|_| ApiError::Unauthenticated("Basic credentials must be base64(token)"))?;
        String::from_utf8(decoded)
            .map(|token| Presented::Token(Zeroizing::new(token)))
            .map_err(|_| ApiError::Unauthenticated("Basic credentials must be base64(token)"))
    } else {
        Err(ApiError::Unauthenticated(
            "use Basic base64(token), Bearer token, Bearer base64(name:key) or x-api-key",
        ))
    }
}

/// `Bearer base64(name:key)` names an API key; any other bearer credential is a login token.
/// A login token is a JWT (base64url parts joined by dots), which never decodes as standard
/// base64, so the two cannot be confused.
fn bearer(credentials: &str) -> Presented {
    let api_key = STANDARD
        .decode(credentials)
        .ok()
        .map(Zeroizing::new)
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok().map(Zeroizing::new))
        .and_then(|text| {
            let (name, key) = text.split_once(':')?;
            key.starts_with("sp_")
                .then(|| (name.to_owned(), Zeroizing::new(key.to_owned())))
        });
    match api_key {
        Some((name, key)) => Presented::ApiKey {
            name: Some(name),
            key,
        },
        None => Presented::Token(Zeroizing::new(credentials.to_owned())),
    }
}

/// Authorizes a request for a route that needs `required` (module docs give the order).
pub async fn authorize(req: &HttpRequest, required: Option<Scope>) -> Result<Principal, ApiError> {
    check_route_table(req, required)?;
    let context = req
        .app_data::<web::Data<ApiContext>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("API context missing"))?;
    let audit = Recorder::of(req);
    let address = context.auth.clients.client_address(req);
    let principal = match presented(req)? {
        Presented::Token(token) => token::authenticate(&context, &token, audit).await?,
        Presented::ApiKey { name, key } => {
            api_key::authenticate(&context, name.as_deref(), &key, audit).await?
        }
    };
    principal
        .audit
        .authenticated(&principal.producer, &principal.operator);
    client::enforce_allowlist(&context, &principal.producer, address).await?;
    context.auth.rates.admit(&principal)?;
    if let Some(scope) = required
        && !principal.scopes.contains(scope)
    {
        return Err(ApiError::Forbidden(format!(
            "this credential does not hold the scope `{scope}` this route needs"
        )));
    }
    Ok(principal)
}

/// The route's entry in [`ROUTES`] must exist and name the scope its handler declares.
fn check_route_table(req: &HttpRequest, required: Option<Scope>) -> Result<(), ApiError> {
    let pattern = req.match_pattern();
    let method = req.method().as_str();
    let declared = ROUTES
        .iter()
        .find(|route| route.method == method && Some(route.path) == pattern.as_deref())
        .map(|route| route.access);
    let expected = match required {
        Some(scope) => Access::Scope(scope),
        None => Access::Authenticated,
    };
    if declared == Some(expected) {
        Ok(())
    } else {
        Err(ApiError::internal(format!(
            "route {method} {pattern:?} declares {expected:?} in its handler but {declared:?} in routes::ROUTES"
        )))
    }
}
