//! `POST /login` and `POST /logout`.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use schema::Environment;
use serde_json::json;
use zeroize::Zeroizing;

use crate::access_log::Recorder;
use crate::auth::{Authenticated, Authorized, Credential, LoggedIn, Login, Proof, log_in};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form::{self, MAX_KEY_PART_BYTES, MAX_TEXT_PART_BYTES};
use crate::openapi::schemas::{self, LoginForm};
use crate::representation::rfc3339;

/// Parts `key` (the producer's PEM private key) and `email` (the operator, for auditing), or
/// `assertion` (a JWT signed with one of the producer's keys, see `auth::token::assertion`)
/// and optionally `email` (without it the audit trail names `assertion:{keyId}`); optionally
/// `environment`, `live` (default) or `test`, the environment the token acts in.
/// 200 with the token in `Authorization` and `producer`, `environment`, `expires` in the body;
/// 400 or 422 for a bad form, naming the part; 401 for a bad or unknown key or assertion.
#[utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = "login",
    request_body(content = LoginForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Logged in", body = schemas::LoggedIn,
            headers(("Authorization" = String, description = "The login token, for `Authorization: Bearer {token}`"))),
        (status = 400, description = "A malformed form, a missing or unknown part"),
        (status = 401, description = "An invalid or unknown key or assertion"),
        (status = 403, description = "The address is outside the producer's allowlist"),
        (status = 413, description = "A part larger than its limit"),
        (status = 415, description = "Not multipart/form-data"),
        (status = 422, description = "A bad email or environment"),
    ),
)]
pub async fn login(
    context: web::Data<ApiContext>,
    request: HttpRequest,
    mut multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    let login = read_login_form(&mut multipart).await?;
    let address = context.auth.clients.client_address(&request);
    let LoggedIn {
        token,
        producer_name,
        session,
    } = log_in(&context, login, address).await?;
    Recorder::of(&request).authenticated(&session.producer_id, &session.email);
    Ok(HttpResponse::Ok()
        .insert_header((header::AUTHORIZATION, token))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "msg": "logged in; send the token from the Authorization header as Basic base64(token) or Bearer token",
            "producer": producer_name,
            "environment": session.environment.as_str(),
            "expires": rfc3339(session.expires_at),
        })))
}

/// The parts of a login form, as sent.
#[derive(Default)]
struct LoginParts {
    key: Option<Zeroizing<String>>,
    assertion: Option<Zeroizing<String>>,
    email: Option<String>,
    environment: Option<String>,
}

async fn read_login_form(multipart: &mut Multipart) -> Result<Login, ApiError> {
    let mut parts = LoginParts::default();
    while let Some(mut field) = form::next_field(multipart).await? {
        let name = form::field_name(&field)?;
        let limit = match name.as_str() {
            "key" | "assertion" => MAX_KEY_PART_BYTES,
            "email" | "environment" => MAX_TEXT_PART_BYTES,
            _ => {
                return Err(ApiError::bad_request(
                    &name,
                    "unknown part; /login takes key and email, or assertion (and email), and environment",
                ));
            }
        };
        let value = form::read_text(&mut field, &name, limit).await?;
        match name.as_str() {
            "key" => parts.key = Some(Zeroizing::new(value)),
            "assertion" => {
                let value = Zeroizing::new(value);
                parts.assertion = Some(Zeroizing::new(value.trim().to_owned()));
            }
            "email" => parts.email = Some(value),
            _ => parts.environment = Some(value),
        }
    }
    parts.into_login()
}

impl LoginParts {
    /// Exactly one proof (`key` with `email`, or `assertion`), a valid email when given, a
    /// known environment.
    fn into_login(self) -> Result<Login, ApiError> {
        let proof = match (self.key, self.assertion) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "assertion",
                    "send either the key part or the assertion part, not both",
                ));
            }
            (Some(key), None) => Proof::Key(key),
            (None, Some(assertion)) => Proof::Assertion(assertion),
            (None, None) => {
                return Err(ApiError::bad_request(
                    "key",
                    "the key part (with email) or the assertion part is required",
                ));
            }
        };
        if matches!(proof, Proof::Key(_)) && self.email.is_none() {
            return Err(ApiError::bad_request("email", "the email part is required"));
        }
        let email = self.email.map(|email| email.trim().to_owned());
        if email
            .as_deref()
            .is_some_and(|email| !looks_like_email(email))
        {
            return Err(ApiError::invalid("email", "must be an email address"));
        }
        let environment = match self.environment.as_deref().map(str::trim) {
            None => Environment::Live,
            Some(name) => name
                .parse()
                .map_err(|_| ApiError::invalid("environment", "must be live or test"))?,
        };
        Ok(Login {
            proof,
            email,
            environment,
        })
    }
}

/// Enough to keep junk out of the audit trail: `local@domain`, no spaces or control characters.
fn looks_like_email(text: &str) -> bool {
    let valid_chars = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    matches!(text.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && valid_chars
}

/// Revokes the calling token at once. An API key is not logged out (400): it is revoked with
/// `DELETE /keys/{name}`.
#[utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "login",
    responses(
        (status = 200, description = "The token is revoked"),
        (status = 400, description = "An API key does not log out"),
    ),
)]
pub async fn logout(
    context: web::Data<ApiContext>,
    principal: Authorized<Authenticated>,
) -> Result<HttpResponse, ApiError> {
    let Credential::Token { jti } = &principal.credential else {
        return Err(ApiError::BadRequest {
            field: None,
            detail: "an API key does not log out; revoke it with DELETE /keys/{name}".into(),
        });
    };
    context.repo.revoke_session(jti, Utc::now()).await?;
    Ok(HttpResponse::Ok().finish())
}
