//! The document request `GET {gateway}/{placeholderId}?{viewer token}`: find the document,
//! match the viewer in the audience, run the challenge, mint a handle, answer with the landing
//! page (browsers) or 303 to the handle (other clients).
//!
//! Every guess is reserved with the limiter before it is checked (issue 14, findings 1 and 2):
//! a password before it is compared, and a viewer token before the answer tells whether it
//! names a member. When the document has an HTTP Auth challenge, a token that names no member
//! is answered exactly like a member's with wrong credentials (the same 401, counted and locked
//! the same way under a key of its own); see `notes` for where the spec forces a difference.

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schema::objects::{Challenge, LandingPage, Scheme, Source, parse_challenge, parse_landingpage};
use schema::{PlaceholderId, ViewerDocument};
use shared::handle::{HandleClaims, Nonce};

use crate::GatewayService;
use crate::access_log::Facts;
use crate::audience::Viewer;
use crate::challenge::{AuthRequest, Outcome, basic, check_http_auth, digest};
use crate::error::GatewayError;
use crate::limits::{Guess, Refusal};
use crate::oauth;
use crate::pages;

/// Longest query string read, and most parameters taken from it.
const MAX_QUERY: usize = 8 * 1024;
const MAX_PARAMS: usize = 64;

/// What a document request's viewer token names.
pub(crate) enum Matched {
    Viewer(Viewer),
    /// A `records` audience and a token selecting no single member: the key its guesses are
    /// counted under (the digest of the values given, like a member's).
    Stranger([u8; 32]),
}

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
    let document = service
        .repo
        .viewer_document(&placeholder)
        .await
        .map_err(GatewayError::Repo)?
        .filter(|document| document.expiration > now)
        .ok_or(GatewayError::NotFound)?;
    request.extensions_mut().insert(Facts {
        document_id: Some(document.id.clone()),
        producer_id: Some(document.producer_id.clone()),
        handle_nonce: None,
    });
    let address = request
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let guess = |viewer: Option<String>| Guess {
        document: document.id.clone(),
        viewer,
        address: address.clone(),
        now,
    };
    let matched = match_viewer(&service, &document, request.query_string()).await?;
    let challenge = (document.challenge.as_ref())
        .map(parse_challenge)
        .transpose()
        .map_err(|_| GatewayError::CorruptRecord { what: "challenge" })?;
    let viewer = match &challenge {
        Some(Challenge::HttpAuth {
            realm,
            scheme,
            access,
        }) => {
            let (viewer, viewer_key) = match matched {
                Matched::Viewer(viewer) => {
                    let key = match &viewer {
                        Viewer::Member { key, .. } => shared::hex::hex(key),
                        Viewer::Unnamed => format!("address:{address}"),
                    };
                    (Some(viewer), key)
                }
                Matched::Stranger(key) => (None, shared::hex::hex(&key)),
            };
            // A member whose record lacks the password field is refused like a stranger.
            let secret = match access {
                Source::Literal(secret) => viewer.as_ref().map(|_| secret.as_str()),
                Source::Field(name) => (viewer.as_ref())
                    .and_then(Viewer::record)
                    .and_then(|record| record.get(name)),
            };
            let auth = AuthRequest {
                authorization: header_str(request.headers(), header::AUTHORIZATION),
                method: request.method().as_str(),
                target: request.uri().path_and_query().map_or("", |pq| pq.as_str()),
                scope: placeholder.as_str(),
                now,
            };
            let challenge = HttpAuth {
                scheme: *scheme,
                realm,
                secret,
            };
            run_http_auth(&service, &challenge, &auth, &guess(Some(viewer_key))).await?;
            // Only a member with a secret passes.
            viewer.ok_or(GatewayError::NotAMember)?
        }
        Some(Challenge::OAuth {
            provider,
            consumer,
            access,
            scope,
            identity_match,
        }) => {
            let viewer = admit(&service, matched, &guess(None)).await?;
            if !oauth::has_session(&service.oauth, &request, &document, &viewer, now) {
                let challenge = oauth::OAuthChallenge {
                    provider,
                    consumer,
                    access,
                    scope: scope.as_deref(),
                    identity_match: identity_match.as_ref(),
                };
                return oauth::start(&service, &request, &document, &viewer, &challenge, now).await;
            }
            viewer
        }
        None => admit(&service, matched, &guess(None)).await?,
    };
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

/// The viewer the token selects; [`GatewayError::NotAMember`] for a stranger.
pub(crate) async fn find_viewer(
    service: &GatewayService,
    document: &ViewerDocument,
    query: &str,
) -> Result<Viewer, GatewayError> {
    match match_viewer(service, document, query).await? {
        Matched::Viewer(viewer) => Ok(viewer),
        Matched::Stranger(_) => Err(GatewayError::NotAMember),
    }
}

pub(crate) async fn match_viewer(
    service: &GatewayService,
    document: &ViewerDocument,
    query: &str,
) -> Result<Matched, GatewayError> {
    if !document.has_audience {
        return Ok(Matched::Viewer(Viewer::Unnamed));
    }
    let membership = service
        .audiences
        .membership(service.repo.as_ref(), &document.id, document.last_modified)
        .await?;
    let query = if query.len() > MAX_QUERY { "" } else { query };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .take(MAX_PARAMS)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    Ok(match membership.find(&pairs) {
        Some(viewer) => Matched::Viewer(viewer),
        None => Matched::Stranger(membership.guess_key(&pairs)),
    })
}

/// A request without a password to compare, whose answer tells whether its token names a
/// member (a handle or an OAuth redirect against 403): the token is a guess, reserved first
/// and given back when it names a member. Without a `records` audience there is nothing to
/// guess.
async fn admit(
    service: &GatewayService,
    matched: Matched,
    guess: &Guess,
) -> Result<Viewer, GatewayError> {
    if let Matched::Viewer(Viewer::Unnamed) = matched {
        return Ok(Viewer::Unnamed);
    }
    let repo = service.repo.as_ref();
    let then = (service.limiter.reserve(repo, guess).await)
        .map_err(GatewayError::Repo)?
        .map_err(|refusal| locked(refusal, guess.now))?;
    match matched {
        Matched::Viewer(viewer) => {
            (service.limiter.release(repo, guess).await).map_err(GatewayError::Repo)?;
            Ok(viewer)
        }
        Matched::Stranger(_) => Err(then.map_or(GatewayError::NotAMember, |refusal| {
            locked(refusal, guess.now)
        })),
    }
}

/// An HTTP Auth challenge as this request meets it: `secret` is `None` for a stranger (or a
/// member without the password field), who is answered like a wrong password.
struct HttpAuth<'a> {
    scheme: Scheme,
    realm: &'a str,
    secret: Option<&'a str>,
}

async fn run_http_auth(
    service: &GatewayService,
    challenge: &HttpAuth<'_>,
    auth: &AuthRequest<'_>,
    guess: &Guess,
) -> Result<(), GatewayError> {
    let (scheme, realm) = (challenge.scheme, challenge.realm);
    let ask = |stale: bool| GatewayError::Challenge {
        www_authenticate: challenge_headers(service, scheme, realm, auth, stale),
    };
    // First, against a secret nobody knows: no credentials, another scheme, a nonce this
    // gateway did not issue ask again without counting anything (nothing was guessed).
    let unknowable = shared::hex::hex(&Nonce::random().0);
    let check = |secret: &str| {
        check_http_auth(
            scheme,
            realm,
            secret,
            auth,
            &service.nonces,
            &service.replays,
        )
    };
    match check(&unknowable) {
        Outcome::Ask { stale } => return Err(ask(stale)),
        Outcome::WrongUri => return Err(GatewayError::BadRequest),
        Outcome::Pass | Outcome::Failed => {}
    }
    // A guess: counted before it is compared, or refused uncompared.
    let repo = service.repo.as_ref();
    let then = (service.limiter.reserve(repo, guess).await)
        .map_err(GatewayError::Repo)?
        .map_err(|refusal| locked(refusal, auth.now))?;
    let outcome = match challenge.secret {
        Some(secret) => check(secret),
        // The same work as a comparison, against a secret that cannot match.
        None => match check(&unknowable) {
            Outcome::Pass => Outcome::Failed,
            other => other,
        },
    };
    match outcome {
        Outcome::Pass => {
            (service.limiter.release(repo, guess).await).map_err(GatewayError::Repo)?;
            Ok(())
        }
        // The right password under a stale nonce: not a failure; the browser retries.
        Outcome::Ask { stale: true } => {
            (service.limiter.release(repo, guess).await).map_err(GatewayError::Repo)?;
            Err(ask(true))
        }
        // A replayed Digest answer stays counted.
        Outcome::Ask { stale: false } => Err(ask(false)),
        Outcome::WrongUri => Err(GatewayError::BadRequest),
        Outcome::Failed => {
            Err(then.map_or_else(|| ask(false), |refusal| locked(refusal, auth.now)))
        }
    }
}

fn locked(refusal: Refusal, now: DateTime<Utc>) -> GatewayError {
    GatewayError::Locked {
        retry_after_secs: refusal.retry_after_secs(now),
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
        // Binds who may read now: the vault refuses it once the audience or challenge changes.
        access_version: document.access_version.cast_unsigned(),
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
