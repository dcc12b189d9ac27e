//! `POST /login` and `POST /logout`.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;
use zeroize::Zeroizing;

use crate::access_log::Recorder;
use crate::auth::{Authenticated, Authorized, Credential, LoggedIn, log_in};
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form::{self, MAX_KEY_PART_BYTES, MAX_TEXT_PART_BYTES};
use crate::representation::rfc3339;

/// Parts `key` (the producer's PEM private key) and `email` (the operator, for auditing).
/// 200 with the token in `Authorization`; 400 or 422 for a bad form; 401 for a bad or unknown
/// key.
pub async fn login(
    context: web::Data<ApiContext>,
    request: HttpRequest,
    mut multipart: Multipart,
) -> Result<HttpResponse, ApiError> {
    let (key, email) = read_login_form(&mut multipart).await?;
    let LoggedIn {
        token,
        producer_name,
        session,
    } = log_in(
        &context,
        &key,
        email,
        context.auth.clients.client_address(&request),
    )
    .await?;
    Recorder::of(&request).authenticated(&session.producer_id, &session.email);
    Ok(HttpResponse::Ok()
        .insert_header((header::AUTHORIZATION, token))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "msg": "logged in; send the token from the Authorization header as Basic base64(token) or Bearer token",
            "producer": producer_name,
            "expires": rfc3339(session.expires_at),
        })))
}

async fn read_login_form(
    multipart: &mut Multipart,
) -> Result<(Zeroizing<String>, String), ApiError> {
    let (mut key, mut email) = (None, None);
    while let Some(mut field) = form::next_field(multipart).await? {
        let name = form::field_name(&field)?;
        match name.as_str() {
            "key" => {
                key = Some(Zeroizing::new(
                    form::read_text(&mut field, &name, MAX_KEY_PART_BYTES).await?,
                ))
            }
            "email" => email = Some(form::read_text(&mut field, &name, MAX_TEXT_PART_BYTES).await?),
            _ => {
                return Err(ApiError::bad_request(
                    &name,
                    "unknown part; /login takes key and email",
                ));
            }
        }
    }
    let key = key.ok_or_else(|| ApiError::bad_request("key", "the key part is required"))?;
    let email =
        email.ok_or_else(|| ApiError::bad_request("email", "the email part is required"))?;
    let email = email.trim().to_owned();
    if !looks_like_email(&email) {
        return Err(ApiError::invalid("email", "must be an email address"));
    }
    Ok((key, email))
}

/// Enough to keep junk out of the audit trail: `local@domain`, no spaces or control characters.
fn looks_like_email(text: &str) -> bool {
    let valid_chars = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    matches!(text.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && valid_chars
}

/// Revokes the calling token at once. An API key is not logged out (400): it is revoked with
/// `DELETE /keys/{name}`.
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
