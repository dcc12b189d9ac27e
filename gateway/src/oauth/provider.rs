//! Where a challenge's provider is: its endpoints (from the challenge, or OpenID Connect
//! discovery) and its signing keys, fetched over HTTP with timeouts and cached.
//!
//! The provider is the producer's choice, so every request to it (discovery, keys, token
//! exchange) passes the egress policy (issue 14, finding 3): `https` under the default scope,
//! plain `http` only to the `egress.allow` addresses (a client secret crosses the wire), no
//! redirects. Every answer is read with a streaming cap under a total timeout, and a failed
//! discovery or key fetch is remembered for [`FAILURE_CACHE_FOR`], so a provider that streams
//! without end or never answers costs one bounded fetch per half minute, not one per viewer
//! request (finding 4).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use schema::objects::challenge::Provider;
use serde::Deserialize;
use shared::egress::{BodyError, EgressPolicy, Scope};

/// How long discovered endpoints and keys are reused before being fetched again.
const CACHE_FOR: Duration = Duration::from_secs(600);
/// How long a failed discovery or key fetch is answered from memory.
pub const FAILURE_CACHE_FOR: Duration = Duration::from_secs(30);
/// Largest discovery document, key set or token response read.
const MAX_BODY: usize = 256 * 1024;

/// A provider's endpoints. `openid` is set when they came from discovery: then the ID token
/// is required and checked against `issuer` and `jwks_uri`.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub openid: Option<OpenId>,
}

#[derive(Debug, Clone)]
pub struct OpenId {
    pub issuer: String,
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Why a provider could not be used: every case is the provider's fault (502 to the viewer).
/// None names the provider's address (the egress refusal least of all).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("refused by egress policy")]
    Refused,
    #[error("the provider did not answer in time or could not be reached")]
    Unreachable,
    #[error("the provider answered {0}")]
    Status(u16),
    #[error("the provider's answer is not what OpenID Connect requires: {0}")]
    Invalid(&'static str),
}

impl ProviderError {
    fn from_reqwest(error: &reqwest::Error) -> Self {
        if shared::egress::is_refusal(error) {
            Self::Refused
        } else {
            Self::Unreachable
        }
    }

    fn from_body(error: &BodyError) -> Self {
        match error {
            BodyError::TooLong(_) => Self::Invalid("answer too large"),
            BodyError::Read(error) => Self::from_reqwest(error),
        }
    }
}

/// Remembered answers: a value until it expires, or a failure for [`FAILURE_CACHE_FOR`].
type Cache<T> = Mutex<HashMap<String, (Instant, Result<T, ProviderError>)>>;

/// HTTP clients for providers under the egress policy (`https`: public addresses and the
/// allowlist; `plain`: the allowlist only) and caches of their endpoints and keys.
pub struct Providers {
    /// `None` when the client could not be built: every request then fails (closed), never
    /// through a client without the policy.
    https: Option<reqwest::Client>,
    plain: Option<reqwest::Client>,
    egress: Arc<EgressPolicy>,
    endpoints: Cache<Endpoints>,
    keys: Cache<Arc<JwkSet>>,
}

impl Providers {
    pub fn new(timeout: Duration, egress: Arc<EgressPolicy>) -> Self {
        let client = |scope| {
            egress
                .http_client(reqwest::Client::builder(), scope)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .timeout(timeout)
                .build()
                .inspect_err(|error| tracing::error!(%error, "no HTTP client for OAuth providers"))
                .ok()
        };
        Self {
            https: client(Scope::Default),
            plain: client(Scope::AllowlistOnly),
            egress,
            endpoints: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `url` once the policy allows it: `https` anywhere the policy permits,
    /// `http` only to the allowlist (IP literals judged here, names when connecting).
    fn client_for(&self, url: &reqwest::Url) -> Result<&reqwest::Client, ProviderError> {
        let (client, scope) = match url.scheme() {
            "https" => (&self.https, Scope::Default),
            "http" => (&self.plain, Scope::AllowlistOnly),
            _ => return Err(ProviderError::Invalid("an endpoint is not an http(s) URL")),
        };
        self.egress
            .check_url(url, scope)
            .map_err(|_| ProviderError::Refused)?;
        client.as_ref().ok_or(ProviderError::Unreachable)
    }

    /// The endpoints of `provider`: as given, or discovered from its issuer URL.
    pub async fn endpoints(&self, provider: &Provider) -> Result<Endpoints, ProviderError> {
        if let (Some(authorize), Some(token)) = (&provider.authorize, &provider.token) {
            return Ok(Endpoints {
                authorize: authorize.clone(),
                token: token.clone(),
                openid: None,
            });
        }
        let issuer = provider.href.trim_end_matches('/');
        if let Some(found) = cached(&self.endpoints, issuer) {
            return found;
        }
        let found = self.discover(issuer).await;
        store(&self.endpoints, issuer, &found);
        found
    }

    async fn discover(&self, issuer: &str) -> Result<Endpoints, ProviderError> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = self.get_json(&url).await?;
        // OpenID Connect Discovery §4.3: the issuer must be the one asked for.
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(ProviderError::Invalid("discovery names another issuer"));
        }
        Ok(Endpoints {
            authorize: discovery.authorization_endpoint,
            token: discovery.token_endpoint,
            openid: Some(OpenId {
                issuer: discovery.issuer,
                jwks_uri: discovery.jwks_uri,
            }),
        })
    }

    /// The provider's signing keys; `refresh` fetches them again (a key id we do not know may
    /// be a key the provider just rotated in).
    pub async fn keys(&self, jwks_uri: &str, refresh: bool) -> Result<Arc<JwkSet>, ProviderError> {
        match cached(&self.keys, jwks_uri) {
            // A failure is remembered even against a refresh: an unknown key id must not
            // make every callback fetch a failing key set again.
            Some(Err(error)) => return Err(error),
            Some(Ok(found)) if !refresh => return Ok(found),
            _ => {}
        }
        let found = self.get_json(jwks_uri).await.map(Arc::new);
        store(&self.keys, jwks_uri, &found);
        found
    }

    /// GETs `url` under the policy and reads at most [`MAX_BODY`] bytes of JSON.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ProviderError> {
        let url = reqwest::Url::parse(url)
            .map_err(|_| ProviderError::Invalid("an endpoint is not a URL"))?;
        let response = self
            .client_for(&url)?
            .get(url)
            .send()
            .await
            .map_err(|error| ProviderError::from_reqwest(&error))?;
        if !response.status().is_success() {
            return Err(ProviderError::Status(response.status().as_u16()));
        }
        let body = shared::egress::read_capped(response, MAX_BODY)
            .await
            .map_err(|error| ProviderError::from_body(&error))?;
        serde_json::from_slice(&body)
            .map_err(|_| ProviderError::Invalid("answer is not the expected JSON"))
    }
}

/// A live entry of `cache`: a value within [`CACHE_FOR`], a failure within
/// [`FAILURE_CACHE_FOR`].
fn cached<T: Clone>(cache: &Cache<T>, key: &str) -> Option<Result<T, ProviderError>> {
    let cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .get(key)
        .filter(|(expires, _)| Instant::now() < *expires)
        .map(|(_, found)| found.clone())
}

fn store<T: Clone>(cache: &Cache<T>, key: &str, found: &Result<T, ProviderError>) {
    let lifetime = if found.is_ok() {
        CACHE_FOR
    } else {
        FAILURE_CACHE_FOR
    };
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() > 1024 {
        let now = Instant::now();
        cache.retain(|_, (expires, _)| now < *expires);
    }
    cache.insert(key.to_owned(), (Instant::now() + lifetime, found.clone()));
}

/// Why the token exchange's request failed (never its URL or body: the body holds the
/// client secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(ProviderError);

/// `oauth2`'s HTTP client interface over the providers' clients (the `oauth2` crate's own
/// reqwest support is for another reqwest version): the token endpoint passes the egress
/// policy like the rest, and its answer is read with the same cap.
pub async fn send(
    providers: &Providers,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, SendError> {
    let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
        .map_err(|_| SendError(ProviderError::Invalid("the token endpoint is not a URL")))?;
    let client = providers.client_for(request.url()).map_err(SendError)?;
    let response = client
        .execute(request)
        .await
        .map_err(|error| SendError(ProviderError::from_reqwest(&error)))?;
    let mut builder = http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = shared::egress::read_capped(response, MAX_BODY)
        .await
        .map_err(|error| SendError(ProviderError::from_body(&error)))?;
    Ok(builder.body(body).unwrap_or_default())
}
