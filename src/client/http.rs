//! The connection to an API server: credentials, safe retries, problem+json.
//!
//! Credentials: with `--key FILE` the command logs in by a signed assertion (an EdDSA JWT with
//! `iss` = the producer, `aud` = `{api}/login`, a 2-minute `exp` and a random `jti`; DESIGN,
//! "Producer credentials"), so the private key never travels; the login token is used for the
//! command's requests. Otherwise `SEALPOST_API_KEY` is sent as `x-api-key`.
//!
//! Retries: [`Api::send`] retries a network error (connect, send, or reading the answer) and a
//! 5xx answer up to [`ATTEMPTS`] times in all, with exponential backoff from [`FIRST_BACKOFF`];
//! a 429 waits its `Retry-After` (at most [`MAX_RETRY_AFTER`]). Writes that are retried carry
//! one `Idempotency-Key` for every attempt, so a retry after the server committed answers the
//! stored response instead of doing the work twice.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::args::Remote;
use super::{Refused, usage};

/// Attempts of one logical operation, the first included.
pub const ATTEMPTS: u32 = 4;
/// The wait before the first retry; it doubles for each next one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` a 429 is waited for (longer: the 429 is the answer).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How long the signed login assertion is valid.
const ASSERTION_TTL_SECS: i64 = 120;
/// The environment variable holding an API key.
pub const API_KEY_VAR: &str = "SEALPOST_API_KEY";

/// How requests are authenticated.
enum Credential {
    Token(Zeroizing<String>),
    ApiKey(Zeroizing<String>),
}

/// An authenticated connection to one API server.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    credential: Credential,
}

/// The HTTP client of every producer command: no overall timeout (uploads take what they
/// take), a connect timeout, rustls with the system's roots.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

impl Api {
    /// Connects to `remote.api` with `--key` (logging in) or `SEALPOST_API_KEY`.
    pub async fn connect(remote: &Remote) -> anyhow::Result<Self> {
        let base = remote.api.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base).map_err(|e| usage(format!("--api {base}: {e}")))?;
        let client = client()?;
        let credential = match &remote.credential_key {
            Some(path) => {
                let producer = producer_name(remote.producer.as_deref(), path);
                Credential::Token(login(&client, &base, path, &producer).await?)
            }
            None => match std::env::var(API_KEY_VAR) {
                Ok(key) if !key.is_empty() => Credential::ApiKey(Zeroizing::new(key)),
                _ => {
                    return Err(usage(format!(
                        "no credentials: give --key FILE (the producer's PEM key) or set {API_KEY_VAR}"
                    )));
                }
            },
        };
        Ok(Self {
            base,
            client,
            credential,
        })
    }

    /// `{api}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `builder` with this connection's credentials.
    pub fn authorize(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.credential {
            Credential::Token(token) => builder.bearer_auth(token.as_str()),
            Credential::ApiKey(key) => builder.header("x-api-key", key.as_str()),
        }
    }

    /// Sends the request `make` builds (once per attempt, authorized here) and returns the
    /// 2xx answer's body, retrying as the module says; a 4xx (or a 5xx after the last attempt)
    /// is [`Refused`].
    pub async fn send<F>(
        &self,
        make: F,
    ) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes)>
    where
        F: Fn() -> anyhow::Result<RequestBuilder>,
    {
        let mut attempt = 1;
        loop {
            let outcome = attempt_once(self.authorize(make()?)).await;
            let wait = match &outcome {
                Ok((status, headers, _)) => retry_wait(*status, headers, attempt),
                Err(_) => Some(backoff(attempt)),
            };
            match wait {
                Some(wait) if attempt < ATTEMPTS => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return outcome.and_then(refuse_unless_success),
            }
        }
    }

    /// `send` for a JSON answer.
    pub async fn send_json<F>(&self, make: F) -> anyhow::Result<(reqwest::header::HeaderMap, Value)>
    where
        F: Fn() -> anyhow::Result<RequestBuilder>,
    {
        let (_, headers, body) = self.send(make).await?;
        let value = serde_json::from_slice(&body).context("the server's answer is not JSON")?;
        Ok((headers, value))
    }
}

/// One attempt: the answer's status, headers and whole body (answers here are small JSON).
async fn attempt_once(
    builder: RequestBuilder,
) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes)> {
    let response = builder.send().await.map_err(network)?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.bytes().await.map_err(network)?;
    Ok((status, headers, body))
}

fn network(error: reqwest::Error) -> anyhow::Error {
    anyhow::Error::new(error).context("network error talking to the API server")
}

/// How long to wait before retrying an answer with `status`, or `None` for a final answer.
fn retry_wait(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    attempt: u32,
) -> Option<Duration> {
    if status.is_server_error() {
        return Some(backoff(attempt));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        let wait = Duration::from_secs(seconds);
        return (wait <= MAX_RETRY_AFTER).then_some(wait);
    }
    None
}

/// The wait after failed attempt `attempt` (1-based): 250 ms, 500 ms, 1 s, …
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1))
}

/// The body of a 2xx answer; anything else becomes [`Refused`] with the problem+json.
fn refuse_unless_success(
    (status, headers, body): (StatusCode, reqwest::header::HeaderMap, bytes::Bytes),
) -> anyhow::Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes)> {
    if status.is_success() {
        return Ok((status, headers, body));
    }
    Err(refused(status, &body).into())
}

/// A refusal with `status` whose body was `body`.
pub fn refused(status: StatusCode, body: &[u8]) -> Refused {
    let problem = serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or_default(),
                "status": status.as_u16(),
                "detail": String::from_utf8_lossy(body).chars().take(500).collect::<String>(),
            })
        });
    Refused {
        status: status.as_u16(),
        problem,
    }
}

/// A fresh random `Idempotency-Key` (128 bits, base64url), one per logical operation.
pub fn idempotency_key() -> String {
    schema::ObjectKey::random().to_string()
}

/// The producer a key file belongs to: `--producer`, else NAME of `producer-NAME.pem`, else
/// `default` (the producer `sealpost up` creates).
fn producer_name(given: Option<&str>, key_file: &Path) -> String {
    given.map(str::to_owned).unwrap_or_else(|| {
        key_file
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("producer-"))
            .filter(|s| !s.is_empty())
            .unwrap_or(crate::producers::DEFAULT_PRODUCER)
            .to_owned()
    })
}

/// `POST /login` with an assertion signed by the key in `key_file`: the login token.
async fn login(
    client: &reqwest::Client,
    base: &str,
    key_file: &Path,
    producer: &str,
) -> anyhow::Result<Zeroizing<String>> {
    let pem = Zeroizing::new(
        std::fs::read_to_string(key_file)
            .map_err(|e| usage(format!("--key {}: {e}", key_file.display())))?,
    );
    let key = shared::keys::SigningKey::from_pem(&pem).map_err(|e| {
        usage(format!(
            "--key {}: not a producer key: {e}",
            key_file.display()
        ))
    })?;
    let assertion = Zeroizing::new(sign_assertion(&key, producer, &format!("{base}/login")));
    let form = reqwest::multipart::Form::new().text("assertion", assertion.to_string());
    let response = client
        .post(format!("{base}/login"))
        .multipart(form)
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    let token = response
        .headers()
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| Zeroizing::new(v.to_owned()));
    let body = response.bytes().await.map_err(network)?;
    match token {
        Some(token) if status.is_success() => Ok(token),
        _ => Err(anyhow::Error::new(refused(status, &body))
            .context(format!("logging in as producer {producer:?}"))),
    }
}

/// An EdDSA JWT for `POST /login` (header, claims, signature, base64url as RFC 7515 says).
fn sign_assertion(key: &shared::keys::SigningKey, producer: &str, audience: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = json!({"alg": "EdDSA", "typ": "JWT"});
    let claims = json!({
        "iss": producer,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_TTL_SECS,
        "jti": schema::ObjectKey::random().to_string(),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    format!("{input}.{signature}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn server_errors_are_retried_with_doubling_backoff_and_client_errors_are_final() {
        let none = reqwest::header::HeaderMap::new();
        assert_eq!(
            retry_wait(StatusCode::SERVICE_UNAVAILABLE, &none, 1),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_wait(StatusCode::BAD_GATEWAY, &none, 3),
            Some(Duration::from_secs(1))
        );
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::CONFLICT,
            StatusCode::CREATED,
        ] {
            assert_eq!(retry_wait(status, &none, 1), None, "{status}");
        }
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(
            retry_wait(StatusCode::TOO_MANY_REQUESTS, &headers, 1),
            Some(Duration::from_secs(2))
        );
        headers.insert(reqwest::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(retry_wait(StatusCode::TOO_MANY_REQUESTS, &headers, 1), None);
    }

    #[test]
    fn the_producer_comes_from_the_flag_or_the_key_file_name() {
        let path = Path::new("/keys/producer-acme.pem");
        assert_eq!(producer_name(None, path), "acme");
        assert_eq!(producer_name(Some("other"), path), "other");
        assert_eq!(producer_name(None, Path::new("key.pem")), "default");
    }

    #[test]
    fn a_refusal_keeps_the_problem_or_makes_one() {
        let problem = refused(
            StatusCode::NOT_FOUND,
            br#"{"status":404,"title":"Not Found"}"#,
        );
        assert_eq!(problem.problem["title"], "Not Found");
        let made = refused(StatusCode::BAD_GATEWAY, b"<html>proxy</html>");
        assert_eq!(made.problem["status"], 502);
        assert_eq!(made.problem["detail"], "<html>proxy</html>");
    }
}
