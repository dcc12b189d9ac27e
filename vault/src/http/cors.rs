//! Cross-origin reads of handles for the gateway's top-secret page, and for nothing else.
//!
//! A top-secret document is decrypted by a script on the gateway's landing page, which
//! `fetch`es `{vault}/h/{handle}` from the gateway's origin. The browser lets the script read
//! the answer only when it carries `Access-Control-Allow-Origin` naming that origin. The vault
//! names exactly one origin, the gateway's public one, and only on `/h/…` answers (errors
//! included, so the page can tell an expired link from a network failure); it never sends
//! `Access-Control-Allow-Credentials` (a handle is the whole credential, no cookie is involved).
//! A simple GET needs no preflight, so `OPTIONS` stays unanswered (405).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// The one origin allowed to read handles cross-origin; `None` allows none.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origin: Option<HeaderValue>,
}

impl Cors {
    /// The origin (`scheme://host[:port]`) of the gateway's public root URL, e.g.
    /// `https://gw.example/base` → `https://gw.example`. A root that is not an absolute
    /// `http`/`https` URL allows no origin.
    pub fn for_gateway(gateway_root: &str) -> Self {
        let origin = url::Url::parse(gateway_root)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .map(|url| url.origin().ascii_serialization())
            .and_then(|origin| HeaderValue::from_str(&origin).ok());
        Self { origin }
    }

    /// The gateway's origin as `settings` give it: `gateway.public_url`, else the scheme and
    /// `gateway_addr` (where the gateway listens; a vault running apart takes `gateway.addr`,
    /// so a split deployment sets `gateway.public_url` on the vault too).
    pub fn from_settings(
        settings: &shared::config::Settings,
        gateway_addr: std::net::SocketAddr,
    ) -> Self {
        let tls = settings.tls.enabled();
        Self::for_gateway(&shared::config::public_url(
            &settings.gateway.public_url,
            gateway_addr,
            tls,
        ))
    }

    /// The allowed origin, if any.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_ref().and_then(|o| o.to_str().ok())
    }

    /// Adds the CORS headers to a handle's answer when the request came from the allowed origin.
    pub fn apply<B: MessageBody>(
        &self,
        request_origin: Option<&HeaderValue>,
        response: &mut ServiceResponse<B>,
    ) {
        let Some(allowed) = &self.origin else {
            return;
        };
        let headers = response.headers_mut();
        // Caches must not hand one origin's answer to another (the vault says no-store anyway).
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if request_origin == Some(allowed) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed.clone());
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Content-Length, Content-Disposition"),
            );
        }
    }
}

/// The middleware: handle answers (`/h/…`, the only ones) get [`Cors::apply`].
pub async fn around(
    cors: Cors,
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let handle = request.path().starts_with("/h/");
    let origin = request.headers().get(header::ORIGIN).cloned();
    let mut response = next.call(request).await?;
    if handle {
        cors.apply(origin.as_ref(), &mut response);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_the_gateway_roots() {
        let origin = |root: &str| Cors::for_gateway(root).origin().map(str::to_owned);
        assert_eq!(
            origin("https://gw.example/base/").as_deref(),
            Some("https://gw.example")
        );
        assert_eq!(
            origin("http://127.0.0.1:8081").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            origin("https://gw.example:443").as_deref(),
            Some("https://gw.example")
        );
        assert_eq!(origin(""), None);
        assert_eq!(origin("ftp://gw.example"), None);
    }
}
