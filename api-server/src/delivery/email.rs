//! Email fulfillment: one message per recipient over SMTP (`lettre`, rustls).
//!
//! The server comes from the deliver request's `smtp_url` or `delivery.smtp_url`:
//! `smtps://…` (port 465 by default) speaks TLS from the first byte; `smtp://…` (port 587 by
//! default) requires `STARTTLS` (issue 14, finding 9: a message holds sealed links), except
//! to a loopback address (a local relay), where it upgrades when offered. The explicit opt-out
//! `smtp://host?tls=opportunistic` sends in clear to a server that offers no `STARTTLS` —
//! never with credentials, so a password never crosses a network in clear. See [`tls_mode`].
//!
//! The host passes the egress policy: it is resolved once, judged, and the connection made to
//! the checked address, the host name kept for the certificate check (issue 14, finding 3).
//! The `Message-ID` is the job's idempotency key, the same at every attempt, so a receiver
//! that remembers IDs can drop a resend after a crash.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use schema::objects::Template;
use shared::egress::{EgressError, EgressPolicy, Scope};
use zeroize::Zeroizing;

use super::attempt::{Attempt, Failure, refused};

/// A parsed `smtp_url`; its password is wiped on drop.
pub struct SmtpServer {
    host: String,
    port: u16,
    implicit_tls: bool,
    /// `?tls=opportunistic`: plain text to a server that offers no `STARTTLS`.
    opportunistic: bool,
    credentials: Option<(String, Zeroizing<String>)>,
}

/// How a session with the SMTP server uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (`smtps://`).
    Wrapper,
    /// `STARTTLS`, or no message at all.
    Required,
    /// `STARTTLS` when the server offers it, else plain text.
    Opportunistic,
}

/// The TLS a session uses, from the URL and the address actually connected to: `smtps` wraps;
/// a loopback address (a relay on this host) and an explicit `?tls=opportunistic` without
/// credentials upgrade when offered; everything else requires `STARTTLS`.
pub fn tls_mode(
    implicit_tls: bool,
    opportunistic: bool,
    credentials: bool,
    connect_to: IpAddr,
) -> TlsMode {
    if implicit_tls {
        TlsMode::Wrapper
    } else if connect_to.to_canonical().is_loopback() || (opportunistic && !credentials) {
        TlsMode::Opportunistic
    } else {
        TlsMode::Required
    }
}

impl SmtpServer {
    /// Parses `smtp://…` or `smtps://…`; the error never repeats the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let url = reqwest::Url::parse(text)
            .map_err(|_| "must be a URL such as smtp://user:password@host:587")?;
        let implicit_tls = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err("must start with smtp:// or smtps://"),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or("must name a host")?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let opportunistic = match url.query() {
            None => false,
            Some("tls=opportunistic") if !implicit_tls => true,
            Some(_) => return Err("takes no query but smtp://…?tls=opportunistic"),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err("must be only smtp[s]://[user:password@]host[:port]");
        }
        let credentials = credentials(&url)?;
        Ok(Self {
            port: url.port().unwrap_or(if implicit_tls { 465 } else { 587 }),
            host,
            implicit_tls,
            opportunistic,
            credentials,
        })
    }

    /// `host:port`, without the credentials (what a test delivery's capture names).
    pub fn address(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }

    /// The address to connect to: the host resolved once under the egress policy.
    async fn resolve(&self, egress: &EgressPolicy) -> Result<SocketAddr, Failure> {
        match egress.resolve(&self.host, self.port, Scope::Default).await {
            Ok(addrs) => addrs
                .first()
                .copied()
                .ok_or_else(|| Failure::transient("the SMTP server could not be reached")),
            Err(EgressError::Refused(_)) => Err(refused()),
            Err(EgressError::Unresolved) => {
                Err(Failure::transient("the SMTP server could not be reached"))
            }
        }
    }

    /// A transport to exactly `connect_to` (no second lookup); the certificate is checked
    /// against the host name.
    fn transport(
        &self,
        connect_to: SocketAddr,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let parameters = TlsParameters::new(self.host.clone())
            .map_err(|_| Failure::permanent("the SMTP server's TLS settings could not be built"))?;
        let mode = tls_mode(
            self.implicit_tls,
            self.opportunistic,
            self.credentials.is_some(),
            connect_to.ip(),
        );
        let tls = match mode {
            TlsMode::Wrapper => Tls::Wrapper(parameters),
            TlsMode::Required => Tls::Required(parameters),
            TlsMode::Opportunistic => Tls::Opportunistic(parameters),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(connect_to.ip().to_string())
                .port(connect_to.port())
                .tls(tls)
                .timeout(Some(timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(builder.build())
    }
}

/// The URL's user and password, percent-decoded; `None` without a user.
fn credentials(url: &reqwest::Url) -> Result<Option<(String, Zeroizing<String>)>, &'static str> {
    let decode = |text: &str| {
        percent_decode(text).ok_or("has a user or password that is not UTF-8 once decoded")
    };
    if url.username().is_empty() {
        return Ok(None);
    }
    let password = Zeroizing::new(decode(url.password().unwrap_or(""))?);
    Ok(Some((decode(url.username())?, password)))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The email fulfillment's templates and sender.
pub struct EmailTemplates<'a> {
    pub from: &'a str,
    pub to: &'a Template,
    pub subject: &'a Template,
    pub body: &'a Template,
}

/// Sends one message.
pub async fn send(
    server: &SmtpServer,
    egress: &EgressPolicy,
    templates: &EmailTemplates<'_>,
    values: &[(&str, &str)],
    message_id: &str,
    timeout: Duration,
) -> Attempt {
    let message = message(templates, values, message_id)?;
    let connect_to = server.resolve(egress).await?;
    let transport = server.transport(connect_to, timeout)?;
    match transport.send(message).await {
        Ok(response) => Ok(response.code().to_string().parse().ok()),
        Err(error) => Err(refusal(&error)),
    }
}

/// The message, its templates filled; its `Message-ID` is the job's idempotency key.
pub fn message(
    templates: &EmailTemplates<'_>,
    values: &[(&str, &str)],
    message_id: &str,
) -> Result<Message, Failure> {
    let fill = |template: &Template, what: &str| {
        template
            .expand(values)
            .map_err(|error| Failure::permanent(format!("fulfillment.{what}: {error}")))
    };
    let to: Mailbox = fill(templates.to, "to")?.parse().map_err(|_| {
        Failure::permanent("fulfillment.to: the viewer's address is not an email address")
    })?;
    let from: Mailbox = templates
        .from
        .parse()
        .map_err(|_| Failure::permanent("fulfillment.from: not an email address"))?;
    let body = Body::new_with_encoding(
        fill(templates.body, "body")?,
        ContentTransferEncoding::QuotedPrintable,
    )
    .map_err(|_| Failure::permanent("fulfillment.body: cannot be encoded"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(fill(templates.subject, "subject")?)
        .message_id(Some(format!("<{message_id}@sealpost>")))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| Failure::permanent("the message could not be built"))
}

/// How a failed SMTP exchange ends: final when the server refused the message for good,
/// retried otherwise; the server's reply code is kept for the API log.
fn refusal(error: &lettre::transport::smtp::Error) -> Failure {
    let status = error
        .status()
        .and_then(|code| code.to_string().parse::<u16>().ok());
    let code = status.unwrap_or(0);
    let mut failure = if error.is_permanent() {
        Failure::permanent(format!("the SMTP server refused the message ({code})"))
    } else if error.is_timeout() {
        Failure::transient("the SMTP exchange timed out")
    } else if error.is_tls() {
        Failure::transient("TLS with the SMTP server failed")
    } else if error.is_transient() {
        Failure::transient(format!("the SMTP server deferred the message ({code})"))
    } else {
        Failure::transient("the SMTP server could not be reached")
    };
    failure.status = status;
    failure
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_message_is_filled_and_keyed_by_the_job() {
        use schema::objects::Syntax;
        let template = |text: &str| Template::parse(text, Syntax::Line).unwrap();
        let (to, subject, body) = (
            template("{+to}"),
            template("Hi {name}"),
            template("{+link}"),
        );
        let templates = EmailTemplates {
            from: "docs@example.com",
            to: &to,
            subject: &subject,
            body: &body,
        };
        let values = [
            ("to", "ann@example.com"),
            ("name", "Ann"),
            ("link", "https://g/l/x"),
        ];
        let text = message(&templates, &values, "key-1").unwrap().formatted();
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("Message-ID: <key-1@sealpost>"), "{text}");
        assert!(text.contains("To: ann@example.com"), "{text}");
        assert!(text.contains("Subject: Hi Ann"), "{text}");
        let values = [("to", "not an address"), ("name", "Ann"), ("link", "x")];
        let failure = message(&templates, &values, "key-1").unwrap_err();
        assert_eq!(
            failure,
            Failure::permanent("fulfillment.to: the viewer's address is not an email address")
        );
    }

    #[test]
    fn urls() {
        let server = SmtpServer::parse("smtp://us%40er:p%3Ass@127.0.0.1:2525").unwrap();
        assert_eq!(
            (server.host.as_str(), server.port, server.implicit_tls),
            ("127.0.0.1", 2525, false)
        );
        let (user, password) = server.credentials.as_ref().unwrap();
        assert_eq!((user.as_str(), password.as_str()), ("us@er", "p:ss"));
        let server = SmtpServer::parse("smtps://mail.example").unwrap();
        assert_eq!((server.port, server.implicit_tls), (465, true));
        assert!(server.credentials.is_none());
        assert_eq!(SmtpServer::parse("smtp://h").unwrap().port, 587);
        assert!(
            SmtpServer::parse("smtp://h?tls=opportunistic")
                .unwrap()
                .opportunistic
        );
        for bad in [
            "http://h",
            "smtp://",
            "smtp://h/x",
            "smtp://h?tls=no",
            "smtps://h?tls=opportunistic",
            "junk",
        ] {
            assert!(SmtpServer::parse(bad).is_err(), "{bad}");
        }
    }

    /// Issue 14, finding 9: no plain text to a non-loopback host unless opted out, and never
    /// with credentials. Decided on the address connected to; no traffic is sent.
    #[test]
    fn tls_is_required_off_loopback() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let public = ip("192.0.2.25");
        assert_eq!(tls_mode(false, false, false, public), TlsMode::Required);
        assert_eq!(tls_mode(false, false, true, public), TlsMode::Required);
        assert_eq!(tls_mode(false, true, true, public), TlsMode::Required);
        assert_eq!(tls_mode(false, true, false, public), TlsMode::Opportunistic);
        assert_eq!(tls_mode(true, false, false, public), TlsMode::Wrapper);
        for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let loopback = ip(loopback);
            assert_eq!(
                tls_mode(false, false, true, loopback),
                TlsMode::Opportunistic
            );
            assert_eq!(tls_mode(true, false, true, loopback), TlsMode::Wrapper);
        }
        // A private relay is not loopback: TLS required there too.
        assert_eq!(
            tls_mode(false, false, false, ip("10.0.0.25")),
            TlsMode::Required
        );
    }
}
