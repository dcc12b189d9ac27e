//! `GET {gateway}/oauth/callback`: the provider sends the viewer back here.

use actix_web::http::header;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use oauth2::{
    AuthorizationCode, ClientId, ClientSecret, PkceCodeVerifier, RequestTokenError,
    TokenResponse as _, TokenUrl,
};
use schema::objects::{Challenge, parse_challenge};
use schema::{OAuthPending, PlaceholderId, ViewerDocument};
use serde_json::{Map, Value};

use super::provider::{Endpoints, send};
use super::{OAuthChallenge, OAuthClient, refuse, resolve, state_hash, viewer_name};
use crate::GatewayService;
use crate::access_log::Facts;
use crate::audience::Viewer;
use crate::error::{GatewayError, SignInFailure};
use crate::request::find_viewer;

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

pub async fn callback(
    request: HttpRequest,
    service: web::Data<GatewayService>,
) -> Result<HttpResponse, GatewayError> {
    let now = Utc::now();
    let oauth = &service.oauth;
    let answer = answer(request.query_string());
    let state = answer.state.filter(|s| !s.is_empty() && s.len() <= 128);
    let Some(state) = state else {
        return Err(refuse(None, SignInFailure::Expired, "no state"));
    };
    let bound = request
        .cookie(&super::cookies::state_name(&state))
        .is_some_and(|cookie| oauth.cookies.state_matches(cookie.value(), &state, now));
    if !bound {
        return Err(refuse(
            None,
            SignInFailure::Expired,
            "state cookie missing, expired or for another state",
        ));
    }
    let pending = (service
        .repo
        .take_oauth_pending(&state_hash(&state), now)
        .await)
        .map_err(GatewayError::Repo)?
        .ok_or_else(|| {
            refuse(
                None,
                SignInFailure::Expired,
                "state unknown, expired or already used",
            )
        })?;
    let document = pending_document(&service, &pending, now).await?;
    request.extensions_mut().insert(Facts {
        document_id: Some(document.id.clone()),
        producer_id: Some(document.producer_id.clone()),
        handle_nonce: None,
    });
    let doc_id = document.id.as_str();
    let doc = Some(doc_id);
    if let Some(error) = answer.error {
        let failure = if error == "access_denied" {
            SignInFailure::Denied
        } else {
            SignInFailure::Refused
        };
        return Err(refuse(
            doc,
            failure,
            &format!("the provider answered error={error:.64}"),
        ));
    }
    let query = pending.request.split_once('?').map_or("", |(_, q)| q);
    let viewer = find_viewer(&service, &document, query).await?;
    let parsed = (document.challenge.as_ref())
        .map(parse_challenge)
        .transpose()
        .map_err(|_| GatewayError::CorruptRecord { what: "challenge" })?;
    let Some(Challenge::OAuth {
        provider,
        consumer,
        access,
        scope,
        identity_match,
    }) = &parsed
    else {
        return Err(refuse(
            doc,
            SignInFailure::Expired,
            "the document no longer has an OAuth challenge",
        ));
    };
    let challenge = OAuthChallenge {
        provider,
        consumer,
        access,
        scope: scope.as_deref(),
        identity_match: identity_match.as_ref(),
    };
    let endpoints = oauth.providers.endpoints(provider).await.map_err(|error| {
        tracing::warn!(document = doc_id, %error, "OAuth provider unavailable");
        GatewayError::ProviderUnavailable
    })?;
    if let (Some(openid), Some(iss)) = (&endpoints.openid, &answer.iss)
        && iss.trim_end_matches('/') != openid.issuer.trim_end_matches('/')
    {
        return Err(refuse(
            doc,
            SignInFailure::Refused,
            "iss of the answer is not the provider's (RFC 9207)",
        ));
    }
    let code = answer
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refuse(doc, SignInFailure::Refused, "no code"))?;
    let expires_at = exchange(
        &service, &document, &viewer, &challenge, &endpoints, &pending, code, now,
    )
    .await?;
    tracing::info!(document = doc_id, %expires_at, "OAuth sign-in succeeded");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, pending.request.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .cookie(oauth.cookies.clear_state(&state))
        .cookie(oauth.cookies.session_cookie(
            document.id.as_str(),
            &viewer_name(&viewer),
            expires_at,
            now,
        ))
        .finish())
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
    (service.repo.viewer_document(&placeholder).await)
        .map_err(GatewayError::Repo)?
        .filter(|document| document.id == pending.document_id && document.expiration > now)
        .ok_or(GatewayError::NotFound)
}

/// Exchanges the code (client secret to the token endpoint only), checks the ID token and the
/// identity match, and returns when the session ends.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    service: &GatewayService,
    document: &ViewerDocument,
    viewer: &Viewer,
    challenge: &OAuthChallenge<'_>,
    endpoints: &Endpoints,
    pending: &OAuthPending,
    code: String,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, GatewayError> {
    let oauth = &service.oauth;
    let doc_id = document.id.as_str();
    let doc = Some(doc_id);
    let record = viewer.record();
    let (Some(client_id), Some(secret)) = (
        resolve(challenge.consumer, record),
        resolve(challenge.access, record),
    ) else {
        return Err(GatewayError::NotAMember);
    };
    let client = OAuthClient::new(ClientId::new(client_id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_token_uri(
            TokenUrl::new(endpoints.token.clone())
                .map_err(|_| GatewayError::ProviderUnavailable)?,
        )
        .set_redirect_uri(
            oauth2::RedirectUrl::new(oauth.callback_url.clone())
                .map_err(|_| GatewayError::ProviderUnavailable)?,
        );
    let providers = &oauth.providers;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&|request| send(providers, request))
        .await
        .map_err(|error| match error {
            RequestTokenError::ServerResponse(response) => refuse(
                doc,
                SignInFailure::Refused,
                &format!("the token endpoint refused the code: {}", response.error()),
            ),
            other => {
                // Never the request itself: it holds the client secret.
                tracing::warn!(document = doc_id, error = %shared::telemetry::error_chain(&other), "OAuth token exchange failed");
                GatewayError::ProviderUnavailable
            }
        })?;
    let claims = match &endpoints.openid {
        Some(openid) => {
            let id_token = token.extra_fields().id_token.as_deref();
            super::id_token::verify(
                &oauth.providers,
                openid,
                client_id,
                &pending.nonce,
                id_token,
            )
            .await
            .map_err(|error| refuse(doc, SignInFailure::Refused, &error.to_string()))?
        }
        None => Map::new(),
    };
    if let Some(wanted) = challenge.identity_match {
        check_identity(&claims, wanted, record)
            .map_err(|reason| refuse(doc, SignInFailure::Mismatch, reason))?;
    }
    let lifetime = token
        .expires_in()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or(oauth.max_session)
        .min(oauth.max_session);
    Ok((now + lifetime).min(document.expiration))
}

/// `data.match`: a verified claim must equal the record's field; an email claim counts only
/// when `email_verified` is true.
fn check_identity(
    claims: &Map<String, Value>,
    wanted: &schema::objects::challenge::IdentityMatch,
    record: Option<&schema::objects::Record>,
) -> Result<(), &'static str> {
    let expected = record
        .and_then(|r| r.get(&wanted.field))
        .ok_or("the viewer's record has no such field")?;
    let claimed = claims
        .get(&wanted.claim)
        .and_then(Value::as_str)
        .ok_or("the ID token lacks the claim")?;
    if wanted.claim == "email" && claims.get("email_verified") != Some(&Value::Bool(true)) {
        return Err("the provider has not verified the email address");
    }
    let same = if wanted.claim == "email" {
        claimed.eq_ignore_ascii_case(expected)
    } else {
        claimed == expected
    };
    if same {
        Ok(())
    } else {
        Err("the signed-in identity is not the viewer's")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use schema::objects::challenge::IdentityMatch;
    use serde_json::json;

    fn record() -> schema::objects::Record {
        let audience =
            schema::objects::parse_audience(&json!({"type": "records", "viewerToken": "{?v}",
            "data": {"records": [{"v": "1", "email_address": "Ann@Example.com", "staff": "42"}]}}))
            .unwrap();
        audience.records().unwrap().get(0).unwrap().clone()
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn email_must_be_verified_and_equal() {
        let wanted = IdentityMatch {
            claim: "email".into(),
            field: "email_address".into(),
        };
        let record = record();
        let ok = claims(json!({"email": "ann@example.com", "email_verified": true}));
        assert!(check_identity(&ok, &wanted, Some(&record)).is_ok());
        let unverified = claims(json!({"email": "ann@example.com", "email_verified": false}));
        assert!(check_identity(&unverified, &wanted, Some(&record)).is_err());
        let missing = claims(json!({"email": "ann@example.com"}));
        assert!(check_identity(&missing, &wanted, Some(&record)).is_err());
        let other = claims(json!({"email": "bob@example.com", "email_verified": true}));
        assert!(check_identity(&other, &wanted, Some(&record)).is_err());
        assert!(check_identity(&ok, &wanted, None).is_err());
    }

    #[test]
    fn other_claims_compare_exactly() {
        let wanted = IdentityMatch {
            claim: "employee_id".into(),
            field: "staff".into(),
        };
        let record = record();
        assert!(
            check_identity(
                &claims(json!({"employee_id": "42"})),
                &wanted,
                Some(&record)
            )
            .is_ok()
        );
        assert!(
            check_identity(&claims(json!({"employee_id": 42})), &wanted, Some(&record)).is_err()
        );
        assert!(
            check_identity(
                &claims(json!({"employee_id": "420"})),
                &wanted,
                Some(&record)
            )
            .is_err()
        );
    }

    #[test]
    fn callback_parameters_given_twice_are_not_an_answer() {
        let parsed = answer("state=a&state=b&code=c");
        assert_eq!(parsed.state.as_deref(), Some(""));
        assert_eq!(parsed.code.as_deref(), Some("c"));
    }
}
