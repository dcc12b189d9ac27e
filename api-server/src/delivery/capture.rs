//! Test deliveries (DESIGN, "Producer credentials and environments"): a delivery of a test
//! document never leaves the machine. Each attempt renders its message exactly as the live
//! sender would build it — the same templates, egress check, headers, `Idempotency-Key`,
//! `Message-ID` — and keeps it instead of sending it; the delivery's status shows it per
//! recipient (`"captured"`).
//!
//! Secrets: a captured message is shown as it would have been sent, headers and form values
//! included (an `Authorization` header filled from the deliver form, the sealed link). Every
//! value in it came from the same producer's test environment (its fulfillment, its deliver
//! request) or is that document's own link, and checking them is what a test delivery is for.
//! The one secret that does not, the SMTP server's credentials (from `smtp_url` or the
//! instance's `delivery.smtp_url`), is not part of a message and is never shown: the capture
//! names the server as `host:port`. At rest the capture is sealed under the deliveries' key
//! (like the deliver request's secrets) and wiped with the viewer data when the document is
//! deleted; it is never logged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::attempt::Failure;
use super::email::{self, SmtpServer};
use super::message::{Channel, Message};
use super::secrets::SecretsKey;
use super::{http, xmlrpc};
use schema::repo::delivery::DeliveryStatus;
use shared::egress::EgressPolicy;

/// One recipient's message, as the status shows it under `"captured"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Captured {
    /// A generic HTTP fulfillment's request.
    Http(CapturedRequest),
    /// An XML-RPC fulfillment's `methodCall` POST.
    Xmlrpc(CapturedRequest),
    Email(CapturedEmail),
}

/// An HTTP request: method, URL, headers in the order sent (names lowercase, as HTTP/1.1 sends
/// them here), body. `host` and `content-length` are listed as the HTTP client adds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// An email: the SMTP server it would go to (`host:port`, never its credentials), the envelope,
/// and the full RFC 5322 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapturedEmail {
    pub smtp_server: String,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    pub message: String,
}

impl CapturedRequest {
    /// What `request` would put on the wire.
    pub fn of(request: &reqwest::Request) -> Self {
        let body = (request.body())
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let url = request.url();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut headers: Vec<(String, String)> = (request.headers().iter())
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        headers.push(("host".to_owned(), host));
        headers.push(("content-length".to_owned(), body.len().to_string()));
        Self {
            method: request.method().as_str().to_owned(),
            url: url.as_str().to_owned(),
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }
}

/// What the live sender of `channel` would send for `message`; fails where it would fail
/// before sending (a template that does not fill, a URL the egress policy refuses, a malformed
/// SMTP URL).
pub fn render(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    channel: &Channel<'_>,
    message: &Message,
    (key, default_smtp): (&str, &str),
) -> Result<Captured, Failure> {
    Ok(match channel {
        Channel::Http(templates) => {
            let request = http::request(client, egress, templates, &message.vars(), key)?;
            Captured::Http(CapturedRequest::of(&request))
        }
        Channel::XmlRpc(templates) => {
            let values = (&message.values()[..], message.data());
            let request = xmlrpc::request(client, egress, templates, values, key)?;
            Captured::Xmlrpc(CapturedRequest::of(&request))
        }
        Channel::Email(templates) => {
            let url = message.secrets.smtp_url.as_deref().unwrap_or(default_smtp);
            let server = SmtpServer::parse(url)
                .map_err(|detail| Failure::permanent(format!("smtp_url {detail}")))?;
            let email = email::message(templates, &message.values(), key)?;
            let envelope = email.envelope();
            Captured::Email(CapturedEmail {
                smtp_server: server.address(),
                mail_from: envelope.from().map(ToString::to_string),
                rcpt_to: envelope.to().iter().map(ToString::to_string).collect(),
                message: String::from_utf8_lossy(&email.formatted()).into_owned(),
            })
        }
    })
}

/// What a captured message is sealed to: its job, and not a delivery's secrets.
pub fn aad(delivery_id: &str, seq: i64) -> String {
    format!("captured {delivery_id} {seq}")
}

/// Each recipient's captured message, opened, in recipient order (`None`: nothing captured,
/// or a capture that no longer opens, which is logged).
pub fn open(key: &SecretsKey, status: &DeliveryStatus) -> Vec<Option<Value>> {
    (status.recipients.iter())
        .map(|recipient| {
            let sealed = recipient.captured.as_deref()?;
            let aad = aad(status.id.as_str(), recipient.seq);
            match key.open_value::<Captured>(&aad, sealed) {
                Ok(captured) => serde_json::to_value(captured).ok(),
                Err(error) => {
                    tracing::warn!(%error, delivery = %status.id.as_str(), "a captured message does not open");
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_request_is_captured_as_it_would_be_sent() {
        let request = reqwest::Client::new()
            .post("http://127.0.0.1:9/hook?x=1")
            .header("Authorization", "Bearer t0ken")
            .header("Idempotency-Key", "d.0")
            .body("to=a%40b.example")
            .build()
            .unwrap();
        let captured = CapturedRequest::of(&request);
        assert_eq!(captured.method, "POST");
        assert_eq!(captured.url, "http://127.0.0.1:9/hook?x=1");
        assert_eq!(captured.body, "to=a%40b.example");
        let header = |name: &str| {
            (captured.headers.iter())
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("authorization"), Some("Bearer t0ken"));
        assert_eq!(header("idempotency-key"), Some("d.0"));
        assert_eq!(header("host"), Some("127.0.0.1:9"));
        assert_eq!(header("content-length"), Some("16"));
        let json = serde_json::to_value(Captured::Http(captured)).unwrap();
        assert_eq!(json["type"], "http");
        assert_eq!(json["headers"][0][0], "authorization");
    }

    #[test]
    fn a_capture_opens_only_for_its_own_job() {
        let key = SecretsKey::derive(b"instance key bytes");
        let captured = Captured::Email(CapturedEmail {
            smtp_server: "127.0.0.1:2525".into(),
            mail_from: Some("a@b.example".into()),
            rcpt_to: vec!["c@d.example".into()],
            message: "Subject: hi\r\n\r\nbody".into(),
        });
        let sealed = key.seal_value(&aad("d1", 0), &captured).unwrap();
        let opened: Captured = key.open_value(&aad("d1", 0), &sealed).unwrap();
        assert_eq!(opened, captured);
        assert!(key.open_value::<Captured>(&aad("d1", 1), &sealed).is_err());
        assert!(key.open("d1", &sealed).is_err());
    }
}
