//! The document request `GET {gateway}/{placeholderId}?{viewer token}`: find the document,
//! read the request into a [`Visit`], let [`crate::decision`] decide (match the viewer in the
//! audience, run the challenge under the brute-force limits), and map the [`Decision`]: mint a
//! handle and answer with the landing page (browsers) or 303 to the handle (other clients), or
//! send the viewer to the OAuth provider. Refusals are [`GatewayError`]s, each its own answer.

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schema::objects::LandingPage;
use schema::{PlaceholderId, ViewerDocument};
use shared::handle::{HandleClaims, Nonce};

use crate::GatewayService;
use crate::access_log::Facts;
use crate::audience::Viewer;
use crate::challenge::AuthRequest;
use crate::decision::{Decision, Visit, decide, match_viewer};
use crate::error::GatewayError;
use crate::oauth;
use crate::pages;

pub async fn document_request(
    request: HttpRequest,
    placeholder: web::Path<String>,
    service: web::Data<GatewayService>,
) -> Result<HttpResponse, GatewayError> {
    // A HEAD would mint a handle (or test a password) without anyone reading the answer.
    if request.method() == Method::HEAD {
        return Err(GatewayError::GetOnly);
    }
    let now = Utc::now();
    let placeholder = PlaceholderId::parse(&placeholder).map_err(|_| GatewayError::NotFound)?;
    let document = live_document(&service, &placeholder, now).await?;
    request.extensions_mut().insert(Facts {
        document_id: Some(document.id.clone()),
        producer_id: Some(document.producer_id.clone()),
        handle_nonce: None,
    });
    let matched = match_viewer(&service, &document, request.query_string()).await?;
    let challenge = document.challenge.as_ref();
    let session = oauth::session_cookie(&request, &document);
    let visit = visit(&request, &placeholder, session.as_deref(), now);
    match decide(&service, &document, matched, challenge, &visit).await? {
        Decision::Handle(viewer) => Ok(hand_over(&service, &request, &document, &viewer, now)),
        Decision::SignIn(viewer, challenge) => {
            oauth::start(&service, &request, &document, &viewer, &challenge, now).await
        }
    }
}

/// The document `placeholder` names, unless it has expired.
async fn live_document(
    service: &GatewayService,
    placeholder: &PlaceholderId,
    now: DateTime<Utc>,
) -> Result<ViewerDocument, GatewayError> {
    (service.stores.documents.viewer_document(placeholder).await)
        .map_err(GatewayError::Repo)?
        .filter(|document| document.expiration > now)
        .ok_or(GatewayError::NotFound)
}

/// What the decision reads from the request.
fn visit<'a>(
    request: &'a HttpRequest,
    placeholder: &'a PlaceholderId,
    session: Option<&'a str>,
    now: DateTime<Utc>,
) -> Visit<'a> {
    let auth = AuthRequest {
        authorization: header_str(request.headers(), header::AUTHORIZATION),
        method: request.method().as_str(),
        target: request.uri().path_and_query().map_or("", |pq| pq.as_str()),
        scope: placeholder.as_str(),
        now,
    };
    // The peer, or what trusted proxies say: the same rule as every log's remote-IP column.
    let address = crate::GatewayService::client_address(request)
        .map(|a| a.to_string())
        .unwrap_or_default();
    Visit {
        auth,
        address,
        session,
    }
}

/// Mints the viewer's handle and answers with it: the landing page for a browser, otherwise
/// 303 to the handle.
fn hand_over(
    service: &GatewayService,
    request: &HttpRequest,
    document: &ViewerDocument,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> HttpResponse {
    let nonce = Nonce::time_ordered(now);
    let handle_url = mint_handle(service, document, viewer, nonce, now);
    if let Some(facts) = request.extensions_mut().get_mut::<Facts>() {
        facts.handle_nonce = Some(nonce);
    }
    let test = document.environment == schema::Environment::Test;
    if !accepts_html(request.headers()) {
        let mut redirect = pages::see_other(handle_url);
        if test {
            redirect.insert_header((TEST_HEADER, "test"));
        }
        return redirect.finish();
    }
    let frame = landing_frame(document, viewer);
    let minutes = u64::try_from(service.handle_ttl.num_minutes().max(1)).unwrap_or(5);
    let frame_href = frame.as_ref().map(|f| f.0.as_str());
    let mut response = if document.media_type == shared::e2e::MEDIA_TYPE {
        // Top secret: the page whose script decrypts the document in the browser.
        pages::top_secret::respond(&handle_url, minutes, test, &service.vault_root)
    } else {
        let page = pages::landing(&handle_url, minutes, frame_href, test);
        pages::respond(StatusCode::OK, page, frame.as_ref().map(|f| f.1.as_str()))
    };
    if test {
        response.headers_mut().insert(
            header::HeaderName::from_static(TEST_HEADER),
            header::HeaderValue::from_static("test"),
        );
    }
    response
}

/// Marks a test document's landing page and redirect for clients that read no HTML.
pub const TEST_HEADER: &str = "sealpost-environment";

fn mint_handle(
    service: &GatewayService,
    document: &ViewerDocument,
    viewer: &Viewer,
    nonce: Nonce,
    now: DateTime<Utc>,
) -> String {
    // A handle never outlives its document.
    let expires_at = (now + service.handle_ttl).min(document.expiration);
    let handle = service.signer.sign(&HandleClaims {
        object: document.object_key.clone(),
        document: document.id.clone(),
        // Binds who may read now: the vault refuses it once the audience or challenge changes.
        access_version: document.access_version.cast_unsigned(),
        viewer: viewer.handle_ref(),
        expires_at,
        nonce,
    });
    service.ops.metrics.handle_minted();
    format!("{}/h/{handle}", service.vault_root)
}

/// The producer's page for a `url` landing page, filled from the viewer's record, and its
/// origin (for the page's `frame-src`). `None` when there is none or it does not expand to an
/// `https` URL with a plain host.
fn landing_frame(document: &ViewerDocument, viewer: &Viewer) -> Option<(String, String)> {
    let LandingPage::Url { href } = document.landingpage.as_ref()?;
    let values: Vec<(&str, &str)> = viewer
        .record()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    frame_of(href.expand(&values).ok()?)
}

/// `url` and its origin, when it is `https` with a plain host.
fn frame_of(url: String) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://")?;
    let host = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!host.is_empty() && host.chars().all(plain)).then(|| (url.clone(), format!("https://{host}")))
}

fn accepts_html(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT).is_some_and(|accept| {
        accept.split(',').any(|item| {
            item.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/html")
        })
    })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn only_https_frames_with_a_plain_host_are_shown() {
        let (url, origin) = frame_of("https://p.example:8443/a?b#c".into()).unwrap_or_default();
        assert_eq!(url, "https://p.example:8443/a?b#c");
        assert_eq!(origin, "https://p.example:8443");
        assert_eq!(frame_of("http://p.example/".into()), None);
        assert_eq!(frame_of("https:///path".into()), None);
        assert_eq!(frame_of("https://user@p.example/".into()), None);
        assert_eq!(frame_of("https://p.example\\@evil/".into()), None);
    }

    #[test]
    fn browsers_are_those_that_accept_html() {
        let with = |accept: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
            accepts_html(&headers)
        };
        assert!(with("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"));
        assert!(with("application/json, TEXT/HTML ;q=0.1"));
        assert!(!with("*/*"));
        assert!(!with("text/htmlx"));
        assert!(!accepts_html(&HeaderMap::new()));
    }
}
