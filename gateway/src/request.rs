//! The document request `GET {gateway}/{placeholderId}?{viewer token}`: find the document,
//! match the viewer in the audience, run the challenge, mint a handle, answer with the landing
//! page (browsers) or 303 to the handle (other clients).

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schema::objects::{Challenge, LandingPage, Scheme, Source, parse_challenge, parse_landingpage};
use schema::{PlaceholderId, ViewerDocument};
use shared::handle::{HandleClaims, Nonce};

use crate::GatewayService;
use crate::access_log::Facts;
use crate::audience::{AudienceError, Viewer};
use crate::challenge::{AuthRequest, Outcome, basic, check_http_auth, digest};
use crate::error::GatewayError;
use crate::oauth;
use crate::pages;

/// Longest query string read, and most parameters taken from it.
const MAX_QUERY: usize = 8 * 1024;
const MAX_PARAMS: usize = 64;

pub async fn document_request(
    request: HttpRequest,
    placeholder: web::Path<String>,
    service: web::Data<GatewayService>,
) -> Result<HttpResponse, GatewayError> {
    let now = Utc::now();
    let placeholder = PlaceholderId::parse(&placeholder).map_err(|_| GatewayError::NotFound)?;
    let document = service
        .repo
        .viewer_document(&placeholder)
        .await
        .map_err(GatewayError::internal)?
        .filter(|document| document.expiration > now)
        .ok_or(GatewayError::NotFound)?;
    request.extensions_mut().insert(Facts {
        document_id: Some(document.id.clone()),
        producer_id: Some(document.producer_id.clone()),
        handle_nonce: None,
    });
    let viewer = find_viewer(&service, &document, request.query_string()).await?;
    let challenge = (document.challenge.as_ref())
        .map(parse_challenge)
        .transpose()
        .map_err(|_| GatewayError::internal(anyhow::anyhow!("stored challenge does not parse")))?;
    match &challenge {
        None => {}
        Some(Challenge::HttpAuth {
            realm,
            scheme,
            access,
        }) => {
            let secret = match access {
                Source::Literal(secret) => secret.as_str(),
                Source::Field(name) => (viewer.record())
                    .and_then(|record| record.get(name))
                    .ok_or(GatewayError::NotAMember)?,
            };
            let auth = AuthRequest {
                authorization: header_str(request.headers(), header::AUTHORIZATION),
                method: request.method().as_str(),
                target: request.uri().path_and_query().map_or("", |pq| pq.as_str()),
                scope: placeholder.as_str(),
                now,
            };
            let address = request
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let viewer_key = match &viewer {
                Viewer::Member { key, .. } => shared::hex::hex(key),
                Viewer::Unnamed => format!("address:{address}"),
            };
            run_http_auth(
                &service,
                &document,
                *scheme,
                realm,
                secret,
                &auth,
                &viewer_key,
                &address,
            )
            .await?;
        }
        Some(Challenge::OAuth {
            provider,
            consumer,
            access,
            scope,
            identity_match,
        }) if !oauth::has_session(&service.oauth, &request, &document, &viewer, now) => {
            let challenge = oauth::OAuthChallenge {
                provider,
                consumer,
                access,
                scope: scope.as_deref(),
                identity_match: identity_match.as_ref(),
            };
            return oauth::start(&service, &request, &document, &viewer, &challenge, now).await;
        }
        Some(Challenge::OAuth { .. }) => {}
    }
    let nonce = Nonce::random();
    let handle_url = mint_handle(&service, &document, &viewer, nonce, now);
    if let Some(facts) = request.extensions_mut().get_mut::<Facts>() {
        facts.handle_nonce = Some(nonce);
    }
    if accepts_html(request.headers()) {
        let frame = landing_frame(&document, &viewer);
        let minutes = u64::try_from(service.handle_ttl.num_minutes().max(1)).unwrap_or(5);
        let page = pages::landing(&handle_url, minutes, frame.as_ref().map(|f| f.0.as_str()));
        return Ok(pages::respond(
            actix_web::http::StatusCode::OK,
            page,
            frame.as_ref().map(|f| f.1.as_str()),
        ));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, handle_url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

pub(crate) async fn find_viewer(
    service: &GatewayService,
    document: &ViewerDocument,
    query: &str,
) -> Result<Viewer, GatewayError> {
    if !document.has_audience {
        return Ok(Viewer::Unnamed);
    }
    let membership = service
        .audiences
        .membership(service.repo.as_ref(), &document.id, document.last_modified)
        .await
        .map_err(|error| match error {
            AudienceError::Changed => GatewayError::NotFound,
            other => GatewayError::internal(other),
        })?;
    if query.len() > MAX_QUERY {
        return Err(GatewayError::NotAMember);
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .take(MAX_PARAMS)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    membership.find(&pairs).ok_or(GatewayError::NotAMember)
}

#[allow(clippy::too_many_arguments)]
async fn run_http_auth(
    service: &GatewayService,
    document: &ViewerDocument,
    scheme: Scheme,
    realm: &str,
    secret: &str,
    auth: &AuthRequest<'_>,
    viewer_key: &str,
    address: &str,
) -> Result<(), GatewayError> {
    let repo = service.repo.as_ref();
    let limiter = &service.limiter;
    if let Some(refusal) = (limiter
        .refusal(repo, &document.id, viewer_key, address, auth.now)
        .await)
        .map_err(GatewayError::internal)?
    {
        return Err(GatewayError::Locked {
            retry_after_secs: refusal.retry_after_secs(auth.now),
        });
    }
    let outcome = check_http_auth(
        scheme,
        realm,
        secret,
        auth,
        &service.nonces,
        &service.replays,
    );
    let ask = |stale: bool| GatewayError::Challenge {
        www_authenticate: challenge_headers(service, scheme, realm, auth, stale),
    };
    match outcome {
        Outcome::Pass => {
            (repo
                .clear_challenge_failures(&document.id, viewer_key)
                .await)
                .map_err(GatewayError::internal)?;
            Ok(())
        }
        Outcome::Ask { stale } => Err(ask(stale)),
        Outcome::WrongUri => Err(GatewayError::BadRequest),
        Outcome::Failed => {
            match (limiter
                .failed(repo, &document.id, viewer_key, address, auth.now)
                .await)
                .map_err(GatewayError::internal)?
            {
                Some(refusal) => Err(GatewayError::Locked {
                    retry_after_secs: refusal.retry_after_secs(auth.now),
                }),
                None => Err(ask(false)),
            }
        }
    }
}

fn challenge_headers(
    service: &GatewayService,
    scheme: Scheme,
    realm: &str,
    auth: &AuthRequest<'_>,
    stale: bool,
) -> Vec<String> {
    match scheme {
        Scheme::Basic => vec![basic::challenge(realm)],
        Scheme::Digest => {
            let salt = Nonce::random().0;
            let mut short = [0u8; 8];
            short.copy_from_slice(&salt[..8]);
            let nonce = service.nonces.issue(auth.now, auth.scope, short);
            digest::challenges(realm, &nonce, "sealpost", stale)
        }
    }
}

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
        viewer: viewer.handle_ref(),
        expires_at,
        nonce,
    });
    format!("{}/h/{handle}", service.vault_root)
}

/// The producer's page for a `url` landing page, filled from the viewer's record, and its
/// origin (for the page's `frame-src`). `None` when there is none or it does not expand to an
/// `https` URL with a plain host.
fn landing_frame(document: &ViewerDocument, viewer: &Viewer) -> Option<(String, String)> {
    let LandingPage::Url { href } = parse_landingpage(document.landingpage.as_ref()?).ok()?;
    let values: Vec<(&str, &str)> = viewer
        .record()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let url = href.expand(&values).ok()?;
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
