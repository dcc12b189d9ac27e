//! `GET {gateway}/oauth/callback`: the provider sends the viewer back here. The handler checks
//! that the state is this browser's ([`bound_state`]) and takes the pending sign-in; [`sign_in`]
//! decides on the provider's answer (a session for the viewer until a time, or a refusal); the
//! handler maps a session to 303 back to the document request with a session cookie. Every
//! refusal is a page ([`refuse`], logged with its reason).

use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schema::{OAuthPending, PlaceholderId, ViewerDocument};

use super::exchange::Exchange;
use super::provider::Endpoints;
use super::{OAuth, OAuthChallenge, refuse, state_hash, viewer_name};
use crate::GatewayService;
use crate::access_log::Facts;
use crate::audience::Viewer;
use crate::decision::find_viewer;
use crate::error::{GatewayError, SignInFailure};
use crate::pages;

/// The callback's query (RFC 6749 §4.1.2, RFC 9207 `iss`).
#[derive(Default)]
struct Answer {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

fn answer(query: &str) -> Answer {
    let mut answer = Answer::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()).take(32) {
        let slot = match name.as_ref() {
            "state" => &mut answer.state,
            "code" => &mut answer.code,
            "error" => &mut answer.error,
            "iss" => &mut answer.iss,
            _ => continue,
        };
        // A parameter given twice is not an answer any provider sends.
        *slot = if slot.is_some() {
            Some(String::new())
        } else {
            Some(value.into_owned())
        };
    }
    answer
}

/// A signed-in viewer: the session the cookie carries, until `expires_at`.
struct Session {
    viewer: Viewer,
    expires_at: DateTime<Utc>,
}

pub async fn callback(
    request: HttpRequest,
    service: web::Data<GatewayService>,
) -> Result<HttpResponse, GatewayError> {
    let now = Utc::now();
    let oauth = &service.oauth;
    let mut answer = answer(request.query_string());
    let state = bound_state(&request, oauth, answer.state.take(), now)?;
    let (pending, document) = take_pending(&service, &state, now).await?;
    request.extensions_mut().insert(Facts {
        document_id: Some(document.id.clone()),
        producer_id: Some(document.producer_id.clone()),
        handle_nonce: None,
    });
    let session = sign_in(&service, &document, &pending, answer, now).await?;
    let (doc_id, expires_at) = (document.id.as_str(), session.expires_at);
    tracing::info!(document = doc_id, %expires_at, "OAuth sign-in succeeded");
    let viewer = viewer_name(&session.viewer);
    Ok(pages::see_other(pending.request.clone())
        .cookie(oauth.cookies.clear_state(&state))
        .cookie((oauth.cookies).session_cookie(doc_id, &viewer, expires_at, now))
        .finish())
}

/// The answer's state, when this browser holds the live cookie of exactly that state.
fn bound_state(
    request: &HttpRequest,
    oauth: &OAuth,
    state: Option<String>,
    now: DateTime<Utc>,
) -> Result<String, GatewayError> {
    let Some(state) = state.filter(|s| !s.is_empty() && s.len() <= 128) else {
        return Err(refuse(None, SignInFailure::Expired, "no state"));
    };
    let bound = (request.cookie(&super::cookies::state_name(&state)))
        .is_some_and(|cookie| oauth.cookies.state_matches(cookie.value(), &state, now));
    if !bound {
        return Err(refuse(
            None,
            SignInFailure::Expired,
            "state cookie missing, expired or for another state",
        ));
    }
    Ok(state)
}

/// The sign-in `state` started (its row is used up here), and the document it was for.
async fn take_pending(
    service: &GatewayService,
    state: &str,
    now: DateTime<Utc>,
) -> Result<(OAuthPending, ViewerDocument), GatewayError> {
    let pending = (service
        .stores
        .sign_ins
        .take_oauth_pending(&state_hash(state), now)
        .await)
        .map_err(GatewayError::Repo)?
        .ok_or_else(|| {
            refuse(
                None,
                SignInFailure::Expired,
                "state unknown, expired or already used",
            )
        })?;
    let document = pending_document(service, &pending, now).await?;
    Ok((pending, document))
}

/// The document the sign-in was for, still live under the same placeholder.
async fn pending_document(
    service: &GatewayService,
    pending: &OAuthPending,
    now: DateTime<Utc>,
) -> Result<ViewerDocument, GatewayError> {
    let path = pending.request.split('?').next().unwrap_or("");
    let placeholder =
        PlaceholderId::parse(path.trim_start_matches('/')).map_err(|_| GatewayError::NotFound)?;
    (service.stores.documents.viewer_document(&placeholder).await)
        .map_err(GatewayError::Repo)?
        .filter(|document| document.id == pending.document_id && document.expiration > now)
        .ok_or(GatewayError::NotFound)
}

/// Decides on the provider's `answer` to the `pending` sign-in: the session, or a refusal.
async fn sign_in(
    service: &GatewayService,
    document: &ViewerDocument,
    pending: &OAuthPending,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<Session, GatewayError> {
    let doc_id = document.id.as_str();
    let doc = Some(doc_id);
    if let Some(error) = answer.error {
        let reason = format!("the provider answered error={error:.64}");
        return Err(refuse(doc, provider_failure(&error), &reason));
    }
    let query = pending.request.split_once('?').map_or("", |(_, q)| q);
    let viewer = find_viewer(service, document, query).await?;
    let parsed = document.challenge.as_ref();
    let challenge = parsed.and_then(OAuthChallenge::of).ok_or_else(|| {
        let reason = "the document no longer has an OAuth challenge";
        refuse(doc, SignInFailure::Expired, reason)
    })?;
    let endpoints = answering_provider(service, &challenge, answer.iss, doc_id).await?;
    let code = (answer.code.filter(|c| !c.is_empty()))
        .ok_or_else(|| refuse(doc, SignInFailure::Refused, "no code"))?;
    let exchange = Exchange {
        service,
        document,
        endpoints: &endpoints,
        pending,
    };
    let expires_at = exchange.run(&viewer, &challenge, code, now).await?;
    Ok(Session { viewer, expires_at })
}

/// The provider's endpoints, when the answer's `iss` (RFC 9207) names it.
async fn answering_provider(
    service: &GatewayService,
    challenge: &OAuthChallenge<'_>,
    iss: Option<String>,
    doc_id: &str,
) -> Result<Endpoints, GatewayError> {
    let endpoints =
        (service.oauth.providers.endpoints(challenge.provider).await).map_err(|error| {
            tracing::warn!(document = doc_id, %error, "OAuth provider unavailable");
            GatewayError::ProviderUnavailable
        })?;
    let issuer = (endpoints.openid.as_ref()).map(|openid| openid.issuer.as_str());
    if !issuer_matches(issuer, iss.as_deref()) {
        let reason = "iss of the answer is not the provider's (RFC 9207)";
        return Err(refuse(Some(doc_id), SignInFailure::Refused, reason));
    }
    Ok(endpoints)
}

/// The provider's `error` answer: the viewer said no, or the provider refused.
fn provider_failure(error: &str) -> SignInFailure {
    if error == "access_denied" {
        SignInFailure::Denied
    } else {
        SignInFailure::Refused
    }
}

/// RFC 9207: an answer's `iss`, when given, names the (OpenID) provider's issuer.
fn issuer_matches(issuer: Option<&str>, iss: Option<&str>) -> bool {
    match (issuer, iss) {
        (Some(issuer), Some(iss)) => iss.trim_end_matches('/') == issuer.trim_end_matches('/'),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_parameters_given_twice_are_not_an_answer() {
        let parsed = answer("state=a&state=b&code=c");
        assert_eq!(parsed.state.as_deref(), Some(""));
        assert_eq!(parsed.code.as_deref(), Some("c"));
    }

    #[test]
    fn the_providers_error_tells_denied_from_refused() {
        assert_eq!(provider_failure("access_denied"), SignInFailure::Denied);
        assert_eq!(provider_failure("server_error"), SignInFailure::Refused);
        assert_eq!(provider_failure(""), SignInFailure::Refused);
    }

    #[test]
    fn an_iss_must_name_the_issuer_when_both_are_known() {
        let issuer = Some("https://id.example/");
        assert!(issuer_matches(issuer, Some("https://id.example")));
        assert!(!issuer_matches(issuer, Some("https://evil.example")));
        assert!(issuer_matches(issuer, None));
        assert!(issuer_matches(None, Some("https://evil.example")));
    }
}
