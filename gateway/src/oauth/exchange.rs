//! The code exchange that ends an OAuth sign-in: the code is redeemed at the token endpoint
//! (the client secret goes there only), the ID token verified, the identity match checked, and
//! the session's end worked out.

use chrono::{DateTime, Utc};
use oauth2::{
    AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, TokenResponse as _, TokenUrl,
};
use schema::{OAuthPending, ViewerDocument};
use serde_json::{Map, Value};

use super::provider::{Endpoints, Providers, send};
use super::{OAuthChallenge, OAuthClient, TokenResponse, refuse, resolve};
use crate::GatewayService;
use crate::audience::Viewer;
use crate::error::{GatewayError, SignInFailure};

/// What the code exchange of one sign-in needs.
pub(super) struct Exchange<'a> {
    pub service: &'a GatewayService,
    pub document: &'a ViewerDocument,
    pub endpoints: &'a Endpoints,
    pub pending: &'a OAuthPending,
}

type TokenClient = OAuthClient<EndpointNotSet, EndpointSet>;

impl Exchange<'_> {
    /// Exchanges the code (client secret to the token endpoint only), checks the ID token and
    /// the identity match, and returns when the session ends.
    pub async fn run(
        &self,
        viewer: &Viewer,
        challenge: &OAuthChallenge<'_>,
        code: String,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, GatewayError> {
        let oauth = &self.service.oauth;
        let record = viewer.record();
        let (Some(client_id), Some(secret)) = (
            resolve(challenge.consumer, record),
            resolve(challenge.access, record),
        ) else {
            return Err(GatewayError::NotAMember);
        };
        let client = self.client(client_id, secret)?;
        let token = self.redeem(&client, &oauth.providers, code).await?;
        let claims = self.claims(client_id, &token).await?;
        if let Some(wanted) = challenge.identity_match {
            let doc = Some(self.document.id.as_str());
            check_identity(&claims, wanted, record)
                .map_err(|reason| refuse(doc, SignInFailure::Mismatch, reason))?;
        }
        let lifetime = token.expires_in();
        Ok(session_end(
            lifetime,
            oauth.max_session,
            now,
            self.document.expiration,
        ))
    }

    fn client(&self, client_id: &str, secret: &str) -> Result<TokenClient, GatewayError> {
        let invalid = |_| GatewayError::ProviderUnavailable;
        let callback_url = self.service.oauth.callback_url.clone();
        Ok(OAuthClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(TokenUrl::new(self.endpoints.token.clone()).map_err(invalid)?)
            .set_redirect_uri(RedirectUrl::new(callback_url).map_err(invalid)?))
    }

    /// The token for the code, sent with the PKCE verifier.
    async fn redeem(
        &self,
        client: &TokenClient,
        providers: &Providers,
        code: String,
    ) -> Result<TokenResponse, GatewayError> {
        let doc_id = self.document.id.as_str();
        let verifier = PkceCodeVerifier::new(self.pending.pkce_verifier.clone());
        (client.exchange_code(AuthorizationCode::new(code)))
            .set_pkce_verifier(verifier)
            .request_async(&|request| send(providers, request))
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => refuse(
                    Some(doc_id),
                    SignInFailure::Refused,
                    &format!("the token endpoint refused the code: {}", response.error()),
                ),
                other => {
                    // Never the request itself: it holds the client secret.
                    tracing::warn!(document = doc_id, error = %shared::telemetry::error_chain(&other), "OAuth token exchange failed");
                    GatewayError::ProviderUnavailable
                }
            })
    }

    /// The ID token's verified claims (none from a plain OAuth provider).
    async fn claims(
        &self,
        client_id: &str,
        token: &TokenResponse,
    ) -> Result<Map<String, Value>, GatewayError> {
        let Some(openid) = &self.endpoints.openid else {
            return Ok(Map::new());
        };
        let id_token = token.extra_fields().id_token.as_deref();
        let (providers, nonce) = (&self.service.oauth.providers, &self.pending.nonce);
        (super::id_token::verify(providers, openid, client_id, nonce, id_token).await).map_err(
            |error| {
                let doc = Some(self.document.id.as_str());
                refuse(doc, SignInFailure::Refused, &error.to_string())
            },
        )
    }
}

/// When a session ends: when the access token does (`max_session` when it does not say, and
/// at most that), and never after the document.
fn session_end(
    expires_in: Option<std::time::Duration>,
    max_session: chrono::Duration,
    now: DateTime<Utc>,
    expiration: DateTime<Utc>,
) -> DateTime<Utc> {
    let lifetime = expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or(max_session)
        .min(max_session);
    (now + lifetime).min(expiration)
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
    fn a_session_ends_with_the_token_capped_by_the_limit_and_the_document() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        let far = now + chrono::Duration::days(1);
        let minute = Some(std::time::Duration::from_secs(60));
        let end = |expires_in, expiration| session_end(expires_in, hour, now, expiration);
        assert_eq!(end(minute, far), now + chrono::Duration::minutes(1));
        assert_eq!(
            end(Some(std::time::Duration::from_secs(7200)), far),
            now + hour
        );
        assert_eq!(end(None, far), now + hour);
        assert_eq!(end(minute, now), now);
    }
}
