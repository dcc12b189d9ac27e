//! Where a challenge's provider is: its endpoints (from the challenge, or OpenID Connect
//! discovery) and its signing keys, fetched over HTTP with timeouts and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use schema::objects::challenge::Provider;
use serde::Deserialize;

/// How long discovered endpoints and keys are reused before being fetched again.
const CACHE_FOR: Duration = Duration::from_secs(600);
/// Largest discovery document or key set read.
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
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider did not answer in time or could not be reached")]
    Unreachable(#[source] reqwest::Error),
    #[error("the provider answered {0}")]
    Status(u16),
    #[error("the provider's answer is not what OpenID Connect requires: {0}")]
    Invalid(&'static str),
}

/// An HTTP client for providers (no redirects followed: a provider must answer itself) and
/// caches of their endpoints and keys.
pub struct Providers {
    http: reqwest::Client,
    endpoints: Mutex<HashMap<String, (Instant, Endpoints)>>,
    keys: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

impl Providers {
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            endpoints: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
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
            return Ok(found);
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = self.get_json(&url).await?;
        // OpenID Connect Discovery §4.3: the issuer must be the one asked for.
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(ProviderError::Invalid("discovery names another issuer"));
        }
        let endpoints = Endpoints {
            authorize: discovery.authorization_endpoint,
            token: discovery.token_endpoint,
            openid: Some(OpenId {
                issuer: discovery.issuer,
                jwks_uri: discovery.jwks_uri,
            }),
        };
        store(&self.endpoints, issuer, endpoints.clone());
        Ok(endpoints)
    }

    /// The provider's signing keys; `refresh` fetches them again (a key id we do not know may
    /// be a key the provider just rotated in).
    pub async fn keys(&self, jwks_uri: &str, refresh: bool) -> Result<Arc<JwkSet>, ProviderError> {
        if !refresh && let Some(found) = cached(&self.keys, jwks_uri) {
            return Ok(found);
        }
        let keys: Arc<JwkSet> = Arc::new(self.get_json(jwks_uri).await?);
        store(&self.keys, jwks_uri, keys.clone());
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, ProviderError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(ProviderError::Unreachable)?;
        if !response.status().is_success() {
            return Err(ProviderError::Status(response.status().as_u16()));
        }
        let body = response.bytes().await.map_err(ProviderError::Unreachable)?;
        if body.len() > MAX_BODY {
            return Err(ProviderError::Invalid("answer too large"));
        }
        serde_json::from_slice(&body)
            .map_err(|_| ProviderError::Invalid("answer is not the expected JSON"))
    }
}

fn cached<T: Clone>(cache: &Mutex<HashMap<String, (Instant, T)>>, key: &str) -> Option<T> {
    let cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_FOR)
        .map(|(_, value)| value.clone())
}

fn store<T>(cache: &Mutex<HashMap<String, (Instant, T)>>, key: &str, value: T) {
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() > 1024 {
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
    }
    cache.insert(key.to_owned(), (Instant::now(), value));
}

/// `oauth2`'s HTTP client interface over the gateway's reqwest client (the `oauth2` crate's
/// own reqwest support is for another reqwest version).
pub async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
    let response = http.execute(request).await?;
    let mut builder = http::Response::builder().status(response.status().as_u16());
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).unwrap_or_default())
}
