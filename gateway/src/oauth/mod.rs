//! The OAuth challenge (spec, "OAuth"), implemented with OAuth 2.0: the authorization-code
//! flow with PKCE (S256), OpenID Connect when the provider is given by its issuer URL.
//!
//! Mapping of the spec's object (docs/gateway.md, "The OAuth challenge"): `provider.href` is the issuer
//! (discovery) unless `authorize` and `token` give the endpoints; `consumer` is the client id
//! and `access` the client secret, each `literal` or a field of the viewer's record; the
//! redirect URI is `{gateway}/oauth/callback`.
//!
//! A viewer without a session is sent to the provider ([`start`]); the provider sends them back
//! to [`callback`], which checks the state (signed cookie + single-use database row), then
//! exchanges the code (`exchange`), checks the ID token and optional identity match, and gives
//! the browser a session cookie for this document and viewer until the access token expires
//! (capped by the document's expiration and `gateway.oauth_max_session_secs`). With a live
//! session the document request issues handles without another dance
//! ([`crate::decision::decide`]).

mod callback;
pub mod cookies;
mod exchange;
pub mod id_token;
pub mod provider;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, CsrfToken, EndpointNotSet, ExtraTokenFields, PkceCodeChallenge, RedirectUrl,
    Scope, StandardRevocableToken, StandardTokenResponse,
};
use schema::objects::challenge::{IdentityMatch, Provider, Source};
use schema::objects::{Challenge, Record};
use schema::{OAuthPending, ViewerDocument};
use serde::{Deserialize, Serialize};

pub use callback::callback;
use cookies::CookieSigner;
use provider::{Endpoints, Providers};

use crate::GatewayService;
use crate::audience::Viewer;
use crate::error::{GatewayError, SignInFailure};
use crate::pages;

/// Scopes asked for when the challenge names none (DESIGN.md).
const DEFAULT_SCOPE: &str = "openid email";

/// The gateway's OAuth state: provider access, cookie signing, its redirect URI and limits.
pub struct OAuth {
    pub providers: Providers,
    pub cookies: CookieSigner,
    /// `{gateway}/oauth/callback`, registered at the provider and matched exactly there.
    pub callback_url: String,
    pub max_session: chrono::Duration,
    pub state_ttl: chrono::Duration,
}

impl OAuth {
    pub fn new(
        gateway_root: &str,
        cookie_secret: &[u8],
        max_session_secs: u64,
        state_secs: u64,
        timeout_secs: u64,
        egress: std::sync::Arc<shared::egress::EgressPolicy>,
    ) -> Self {
        let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s.max(1)).unwrap_or(3600));
        Self {
            providers: Providers::new(Duration::from_secs(timeout_secs.max(1)), egress),
            cookies: CookieSigner::new(cookie_secret, gateway_root.starts_with("https://")),
            callback_url: format!("{}/oauth/callback", gateway_root.trim_end_matches('/')),
            max_session: secs(max_session_secs),
            state_ttl: secs(state_secs),
        }
    }
}

/// The ID token, the one field the gateway needs beyond the standard token response.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

pub type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient<HasAuthUrl = EndpointNotSet, HasTokenUrl = EndpointNotSet> = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasTokenUrl,
>;

/// The challenge's OAuth parameters, borrowed from the parsed challenge.
pub struct OAuthChallenge<'a> {
    pub provider: &'a Provider,
    pub consumer: &'a Source,
    pub access: &'a Source,
    pub scope: Option<&'a str>,
    pub identity_match: Option<&'a IdentityMatch>,
}

impl<'a> OAuthChallenge<'a> {
    /// The OAuth parameters of `challenge`; `None` for an HTTP Auth challenge.
    pub fn of(challenge: &'a Challenge) -> Option<Self> {
        match challenge {
            Challenge::HttpAuth { .. } => None,
            Challenge::OAuth {
                provider,
                consumer,
                access,
                scope,
                identity_match,
            } => Some(Self {
                provider,
                consumer,
                access,
                scope: scope.as_deref(),
                identity_match: identity_match.as_ref(),
            }),
        }
    }
}

/// A `literal` value, or the viewer's record field; `None` when the record lacks it.
pub fn resolve<'a>(source: &'a Source, record: Option<&'a Record>) -> Option<&'a str> {
    match source {
        Source::Literal(value) => Some(value),
        Source::Field(name) => record.and_then(|r| r.get(name)),
    }
}

/// How the session cookie names the viewer: the handle's viewer reference, in hex.
pub fn viewer_name(viewer: &Viewer) -> String {
    shared::hex::hex(&viewer.handle_ref().0)
}

/// The value of the browser's session cookie for `document`, if it sent one.
pub fn session_cookie(request: &HttpRequest, document: &ViewerDocument) -> Option<String> {
    (request.cookie(&cookies::session_name(document.id.as_str())))
        .map(|cookie| cookie.value().to_owned())
}

/// Whether `cookie` (the browser's session cookie for `document`) is a live session for this
/// document and viewer.
pub fn session_valid(
    oauth: &OAuth,
    cookie: Option<&str>,
    document: &ViewerDocument,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> bool {
    cookie.is_some_and(|cookie| {
        (oauth.cookies).session_valid(cookie, document.id.as_str(), &viewer_name(viewer), now)
    })
}

/// Sends the viewer to the provider: a fresh state (cookie + single-use row), PKCE verifier and
/// nonce, then 303 to the authorization endpoint.
pub async fn start(
    service: &GatewayService,
    request: &HttpRequest,
    document: &ViewerDocument,
    viewer: &Viewer,
    challenge: &OAuthChallenge<'_>,
    now: DateTime<Utc>,
) -> Result<HttpResponse, GatewayError> {
    let oauth = &service.oauth;
    let client_id = resolve(challenge.consumer, viewer.record()).ok_or(GatewayError::NotAMember)?;
    let endpoints = (oauth.providers.endpoints(challenge.provider).await).map_err(|error| {
        tracing::warn!(document = %document.id.as_str(), %error, "OAuth provider unavailable");
        GatewayError::ProviderUnavailable
    })?;
    let authorization = authorization(oauth, client_id, &endpoints, challenge.scope)?;
    let expires_at = now + oauth.state_ttl;
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let pending = OAuthPending {
        state_hash: state_hash(&authorization.state),
        document_id: document.id.clone(),
        request: target.to_owned(),
        pkce_verifier: authorization.verifier,
        nonce: authorization.nonce,
        expires_at,
    };
    (service
        .stores
        .sign_ins
        .insert_oauth_pending(&pending, now)
        .await)
        .map_err(GatewayError::Repo)?;
    tracing::info!(document = %document.id.as_str(), "viewer sent to the OAuth provider");
    let state_cookie = oauth
        .cookies
        .state_cookie(&authorization.state, expires_at, now);
    // An empty fragment: a redirect without one would carry the viewer's (a top-secret link's
    // `#k=…` key) on to the provider's pages, where its scripts could read it. An authorization
    // URL never has a fragment of its own (RFC 6749, 3.1).
    Ok(pages::see_other(format!("{}#", authorization.url))
        .cookie(state_cookie)
        .finish())
}

/// A sign-in about to start: the provider's authorization URL, and what the callback checks
/// the answer against (the state, the OpenID nonce, the PKCE verifier).
struct Authorization {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn authorization(
    oauth: &OAuth,
    client_id: &str,
    endpoints: &Endpoints,
    scope: Option<&str>,
) -> Result<Authorization, GatewayError> {
    let invalid = |_| GatewayError::ProviderUnavailable;
    let client = OAuthClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(endpoints.authorize.clone()).map_err(invalid)?)
        .set_redirect_uri(RedirectUrl::new(oauth.callback_url.clone()).map_err(invalid)?);
    let state = random_token();
    let nonce = random_token();
    let (pkce_challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scope = scope.unwrap_or(DEFAULT_SCOPE);
    let mut authorize = client
        .authorize_url(|| CsrfToken::new(state.clone()))
        .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.to_owned())))
        .set_pkce_challenge(pkce_challenge);
    if endpoints.openid.is_some() {
        authorize = authorize.add_extra_param("nonce", nonce.clone());
    }
    let (url, _) = authorize.url();
    Ok(Authorization {
        url: url.to_string(),
        state,
        nonce,
        verifier: verifier.secret().clone(),
    })
}

/// 256 random bits, base64url.
fn random_token() -> String {
    use base64::Engine as _;
    let (a, b) = (
        shared::handle::Nonce::random().0,
        shared::handle::Nonce::random().0,
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([a, b].concat())
}

/// The state as stored: its SHA-256, so the table never holds a usable state.
pub fn state_hash(state: &str) -> String {
    shared::hex::sha256_hex(state.as_bytes())
}

/// Ends a dance with a refusal page, logged with its reason.
pub fn refuse(document: Option<&str>, failure: SignInFailure, reason: &str) -> GatewayError {
    tracing::warn!(
        document = document.unwrap_or("-"),
        ?failure,
        reason,
        "OAuth sign-in refused"
    );
    GatewayError::SignIn(failure)
}
