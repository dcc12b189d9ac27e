//! What a document request amounts to, decided apart from HTTP. The handler
//! ([`crate::request`]) reads the request once into a [`Visit`]; [`decide`] matches the viewer,
//! runs the challenge under the brute-force limits and returns a [`Decision`]; the handler only
//! maps it to a response.
//!
//! A refusal is a [`GatewayError`], which already is the answer: ask for credentials
//! (`Challenge`, 401), locked (`Locked`, 429), not a member (`NotAMember`, 403), wrong Digest
//! URI (`BadRequest`, 400), and the document missing (`NotFound`, 404).
//!
//! Every guess is reserved with the limiter before it is checked (issue 14, findings 1 and 2):
//! a password before it is compared, and a viewer token before the answer tells whether it
//! names a member. When the document has an HTTP Auth challenge, a token that names no member
//! is answered exactly like a member's with wrong credentials (the same 401, counted and locked
//! the same way under a key of its own).

use chrono::{DateTime, Utc};
use schema::ViewerDocument;
use schema::objects::{Challenge, Scheme, Source};
use schema::views::ViewOutcome;
use shared::handle::Nonce;

use crate::GatewayService;
use crate::audience::Viewer;
use crate::challenge::{AuthRequest, Outcome, check_http_auth, www_authenticate};
use crate::error::GatewayError;
use crate::limits::{Guess, Refusal};
use crate::oauth::{self, OAuthChallenge};

/// Longest query string read, and most parameters taken from it.
const MAX_QUERY: usize = 8 * 1024;
const MAX_PARAMS: usize = 64;

/// The facts of a document request that a decision needs, read from the HTTP request once.
pub struct Visit<'a> {
    /// `Authorization`, method, request-target, the placeholder (the nonces' scope), the time.
    pub auth: AuthRequest<'a>,
    /// The client's address: a limit's key, and an unnamed viewer's for HTTP Auth.
    pub address: String,
    /// This document's OAuth session cookie, when the browser sent one.
    pub session: Option<&'a str>,
}

impl Visit<'_> {
    fn guess(&self, document: &ViewerDocument, viewer: Option<String>) -> Guess {
        Guess {
            document: document.id.clone(),
            viewer,
            address: self.address.clone(),
            now: self.auth.now,
        }
    }
}

/// What a document request leads to when it is not refused.
pub enum Decision<'c> {
    /// Mint a handle for this viewer: the landing page for a browser, 303 to it otherwise.
    Handle(Viewer),
    /// An OAuth challenge and no live session: send the viewer to the provider.
    SignIn(Viewer, OAuthChallenge<'c>),
}

/// What a document request's viewer token names.
pub enum Matched {
    Viewer(Viewer),
    /// A `records` audience and a token selecting no single member: the key its guesses are
    /// counted under (the digest of the values given, like a member's).
    Stranger([u8; 32]),
}

/// Runs `challenge` (the document's, parsed) for the viewer `matched` names.
pub async fn decide<'c>(
    service: &GatewayService,
    document: &ViewerDocument,
    matched: Matched,
    challenge: Option<&'c Challenge>,
    visit: &Visit<'_>,
) -> Result<Decision<'c>, GatewayError> {
    match challenge {
        None => (admit(service, matched, &visit.guess(document, None)).await).map(Decision::Handle),
        Some(Challenge::HttpAuth {
            realm,
            scheme,
            access,
        }) => {
            let challenge = (*scheme, realm.as_str(), access);
            (http_auth(service, document, matched, challenge, visit).await).map(Decision::Handle)
        }
        Some(Challenge::OAuth {
            provider,
            consumer,
            access,
            scope,
            identity_match,
        }) => {
            let challenge = OAuthChallenge {
                provider,
                consumer,
                access,
                scope: scope.as_deref(),
                identity_match: identity_match.as_ref(),
            };
            oauth_sign_in(service, document, matched, challenge, visit).await
        }
    }
}

/// HTTP Auth: the viewer once the credentials prove the secret. Only a member with a secret
/// passes.
async fn http_auth(
    service: &GatewayService,
    document: &ViewerDocument,
    matched: Matched,
    (scheme, realm, access): (Scheme, &str, &Source),
    visit: &Visit<'_>,
) -> Result<Viewer, GatewayError> {
    let (viewer, viewer_key) = guess_subject(matched, &visit.address);
    let challenge = HttpAuth {
        scheme,
        realm,
        secret: secret_of(access, viewer.as_ref()),
    };
    let guess = visit.guess(document, Some(viewer_key));
    run_http_auth(service, &challenge, &visit.auth, &guess).await?;
    viewer.ok_or(GatewayError::NotAMember)
}

/// OAuth: a handle with a live session for this document and viewer, else off to the provider.
async fn oauth_sign_in<'c>(
    service: &GatewayService,
    document: &ViewerDocument,
    matched: Matched,
    challenge: OAuthChallenge<'c>,
    visit: &Visit<'_>,
) -> Result<Decision<'c>, GatewayError> {
    let viewer = admit(service, matched, &visit.guess(document, None)).await?;
    let now = visit.auth.now;
    if oauth::session_valid(&service.oauth, visit.session, document, &viewer, now) {
        crate::access_log::attribute(|a| a.verdict = Some(ViewOutcome::Passed));
        Ok(Decision::Handle(viewer))
    } else {
        Ok(Decision::SignIn(viewer, challenge))
    }
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
        .membership(
            service.stores.documents.as_ref(),
            &document.id,
            document.last_modified,
        )
        .await?;
    let query = if query.len() > MAX_QUERY { "" } else { query };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .take(MAX_PARAMS)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    Ok(match membership.find(&pairs) {
        Some(viewer) => {
            // The record the access log attributes this request to (`access_log::attribute`).
            crate::access_log::attribute(|a| a.record = viewer.index());
            Matched::Viewer(viewer)
        }
        None => Matched::Stranger(membership.guess_key(&pairs)),
    })
}

/// A request without a password to compare, whose answer tells whether its token names a
/// member (a handle or an OAuth redirect against 403). Without a `records` audience there is
/// nothing to guess.
///
/// A stranger's token is a wrong guess: reserved (counted, in its own committed transaction)
/// before it is answered, as in issue 14. A member's token is a right guess, whose reservation
/// used to be given back at once: two fsynced commits for a net change of zero, and the
/// audience path's cost (~700 req/s against ~9,100 without an audience, issue 20). It is now
/// *checked* instead ([`schema::lockout::Limiter::check`]): read, by the reservation's rules,
/// after this process's reservations in flight (and on PostgreSQL under the reservation's row
/// locks, rolled back). Issue 14's property holds:
/// - a stranger's guess is still counted before it is answered, and the windows count exactly
///   the strangers (a member's reservation never outlived its release);
/// - once a limit is reached, a member's check and a stranger's reservation are both refused
///   with the same 429 (the same `decide`, on the same counts), so a locked-out guesser learns
///   nothing about its tokens;
/// - a member checked while strangers' reservations are in flight is answered as if it
///   arrived just before or just after them, in the order the requests came (a fair lock in
///   the repository), as a reserve-then-release was. A plain read of the committed counts
///   would not do: in a burst, every member would read the window before the strangers'
///   commits filled it and get its handle while the strangers beyond the limit got 429,
///   telling the two apart for as many tokens as the burst holds. Every gateway's
///   reservations are ordered too: PostgreSQL's row locks, or a SQLite file's write lock under
///   which the check reads (`schema::sqlite::read_conn`, issue 20).
async fn admit(
    service: &GatewayService,
    matched: Matched,
    guess: &Guess,
) -> Result<Viewer, GatewayError> {
    match matched {
        Matched::Viewer(Viewer::Unnamed) => Ok(Viewer::Unnamed),
        Matched::Viewer(viewer) => {
            (service
                .limiter
                .check(service.stores.locks.as_ref(), guess)
                .await)
                .map_err(GatewayError::Repo)?
                .map_err(|refusal| locked(refusal, guess.now))?;
            Ok(viewer)
        }
        Matched::Stranger(_) => {
            let then = reserve(service, guess).await?;
            Err(then.map_or(GatewayError::NotAMember, |refusal| {
                service.ops.metrics.lockout();
                locked(refusal, guess.now)
            }))
        }
    }
}

/// An HTTP Auth challenge as this request meets it: `secret` is `None` for a stranger (or a
/// member without the password field), who is answered like a wrong password.
struct HttpAuth<'a> {
    scheme: Scheme,
    realm: &'a str,
    secret: Option<&'a str>,
}

/// The member (none for a stranger) and the key the pair's guesses are counted under: the
/// viewer's digest, or the client's address for an unnamed viewer.
fn guess_subject(matched: Matched, address: &str) -> (Option<Viewer>, String) {
    match matched {
        Matched::Viewer(viewer) => {
            let key = match &viewer {
                Viewer::Member { key, .. } => shared::hex::hex(key),
                Viewer::Unnamed => format!("address:{address}"),
            };
            (Some(viewer), key)
        }
        Matched::Stranger(key) => (None, shared::hex::hex(&key)),
    }
}

/// The secret to compare against. A member whose record lacks the password field is refused
/// like a stranger.
fn secret_of<'a>(access: &'a Source, viewer: Option<&'a Viewer>) -> Option<&'a str> {
    match access {
        Source::Literal(secret) => viewer.map(|_| secret.as_str()),
        Source::Field(name) => viewer
            .and_then(Viewer::record)
            .and_then(|record| record.get(name)),
    }
}

async fn run_http_auth(
    service: &GatewayService,
    challenge: &HttpAuth<'_>,
    auth: &AuthRequest<'_>,
    guess: &Guess,
) -> Result<(), GatewayError> {
    let check = |secret: &str| {
        let (scheme, realm) = (challenge.scheme, challenge.realm);
        check_http_auth(scheme, realm, secret, auth, &service.nonces)
    };
    // First, against a secret nobody knows: no credentials, another scheme, a nonce this
    // gateway did not issue ask again without counting anything (nothing was guessed).
    let unknowable = shared::hex::hex(&Nonce::random().0);
    if let Some(verdict) = before_guess(check(&unknowable)) {
        return verdict_result(service, challenge, auth, verdict);
    }
    // A guess: counted before it is compared (held open while comparing), or refused
    // uncompared; settled by the outcome (`crate::limits`).
    let held = crate::limits::hold(service, guess).await?;
    let then = held.then;
    let outcome = match challenge.secret {
        Some(secret) => check(secret),
        // The same work as a comparison, against a secret that cannot match.
        None => match check(&unknowable) {
            Outcome::Pass | Outcome::PassOnce(_) => Outcome::Failed,
            other => other,
        },
    };
    let give_back = after_guess(outcome, then).1;
    let outcome = crate::limits::settle(service, held, outcome, give_back, guess).await?;
    attribute_verdict(&outcome);
    if matches!(outcome, Outcome::Failed) {
        service.ops.metrics.challenge_failed(then.is_some());
    }
    verdict_result(service, challenge, auth, after_guess(outcome, then).0)
}

/// What the access log attributes to the request: a compared guess passed or failed.
fn attribute_verdict(outcome: &Outcome) {
    let verdict = match outcome {
        Outcome::Pass => ViewOutcome::Passed,
        Outcome::Failed => ViewOutcome::Failed,
        Outcome::PassOnce(_) | Outcome::Ask { .. } | Outcome::WrongUri => return,
    };
    crate::access_log::attribute(|a| a.verdict = Some(verdict));
}

/// What HTTP Auth credentials lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    /// Ask for credentials again (401).
    Ask {
        stale: bool,
    },
    /// Digest credentials for another request URI (400).
    WrongUri,
    /// A wrong guess that reached a limit (429).
    Locked(Refusal),
}

/// The check against a secret nobody knows, before anything is reserved: a verdict when the
/// request holds no guess at all, `None` when it is one (to reserve, then compare).
fn before_guess(outcome: Outcome) -> Option<Verdict> {
    match outcome {
        Outcome::Ask { stale } => Some(Verdict::Ask { stale }),
        Outcome::WrongUri => Some(Verdict::WrongUri),
        Outcome::Pass | Outcome::PassOnce(_) | Outcome::Failed => None,
    }
}

/// The verdict on a reserved guess, and whether its reservation is given back. `then` is the
/// refusal a wrong guess answers with when counting it reached a limit.
fn after_guess(outcome: Outcome, then: Option<Refusal>) -> (Verdict, bool) {
    match outcome {
        Outcome::Pass => (Verdict::Pass, true),
        // The right password under a stale nonce: not a failure; the browser retries.
        Outcome::Ask { stale: true } => (Verdict::Ask { stale: true }, true),
        // A replayed Digest answer stays counted ([`crate::limits::settle`] resolves a
        // counter before this).
        Outcome::Ask { stale: false } | Outcome::PassOnce(_) => {
            (Verdict::Ask { stale: false }, false)
        }
        Outcome::WrongUri => (Verdict::WrongUri, false),
        Outcome::Failed => (
            then.map_or(Verdict::Ask { stale: false }, Verdict::Locked),
            false,
        ),
    }
}

fn verdict_result(
    service: &GatewayService,
    challenge: &HttpAuth<'_>,
    auth: &AuthRequest<'_>,
    verdict: Verdict,
) -> Result<(), GatewayError> {
    Err(match verdict {
        Verdict::Pass => return Ok(()),
        Verdict::Ask { stale } => GatewayError::Challenge {
            www_authenticate: www_authenticate(
                challenge.scheme,
                challenge.realm,
                auth,
                &service.nonces,
                stale,
            ),
        },
        Verdict::WrongUri => GatewayError::BadRequest,
        Verdict::Locked(refusal) => locked(refusal, auth.now),
    })
}

/// Reserves `guess`: the refusal a wrong guess answers with, if counting it reached a limit;
/// [`GatewayError::Locked`] when a limit was already reached (nothing may be compared).
async fn reserve(service: &GatewayService, guess: &Guess) -> Result<Option<Refusal>, GatewayError> {
    (service
        .limiter
        .reserve(service.stores.locks.as_ref(), guess)
        .await)
        .map_err(GatewayError::Repo)?
        .map_err(|refusal| locked(refusal, guess.now))
}

fn locked(refusal: Refusal, now: DateTime<Utc>) -> GatewayError {
    GatewayError::Locked {
        retry_after_secs: refusal.retry_after_secs(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_guess_asks_or_refuses_without_reserving() {
        assert_eq!(
            before_guess(Outcome::Ask { stale: false }),
            Some(Verdict::Ask { stale: false })
        );
        assert_eq!(
            before_guess(Outcome::Ask { stale: true }),
            Some(Verdict::Ask { stale: true })
        );
        assert_eq!(before_guess(Outcome::WrongUri), Some(Verdict::WrongUri));
        assert_eq!(before_guess(Outcome::Pass), None);
        assert_eq!(before_guess(Outcome::Failed), None);
    }

    #[test]
    fn only_a_pass_or_a_stale_nonce_gives_the_reservation_back() {
        let lock = Some(Refusal::UntilReset);
        assert_eq!(after_guess(Outcome::Pass, lock), (Verdict::Pass, true));
        let stale = Verdict::Ask { stale: true };
        assert_eq!(
            after_guess(Outcome::Ask { stale: true }, lock),
            (stale, true)
        );
        let ask = Verdict::Ask { stale: false };
        assert_eq!(
            after_guess(Outcome::Ask { stale: false }, lock),
            (ask, false)
        );
        assert_eq!(
            after_guess(Outcome::WrongUri, lock),
            (Verdict::WrongUri, false)
        );
    }

    #[test]
    fn a_wrong_guess_locks_only_when_it_reached_a_limit() {
        let ask = Verdict::Ask { stale: false };
        assert_eq!(after_guess(Outcome::Failed, None), (ask, false));
        let locked = Verdict::Locked(Refusal::UntilReset);
        assert_eq!(
            after_guess(Outcome::Failed, Some(Refusal::UntilReset)),
            (locked, false)
        );
    }

    #[test]
    fn strangers_have_no_secret_and_unnamed_viewers_are_keyed_by_address() {
        let literal = Source::Literal("ann:pw".into());
        assert_eq!(secret_of(&literal, None), None);
        assert_eq!(secret_of(&literal, Some(&Viewer::Unnamed)), Some("ann:pw"));
        let field = Source::Field("password".into());
        assert_eq!(secret_of(&field, Some(&Viewer::Unnamed)), None);
        let (viewer, key) = guess_subject(Matched::Viewer(Viewer::Unnamed), "192.0.2.1");
        assert!(matches!(viewer, Some(Viewer::Unnamed)));
        assert_eq!(key, "address:192.0.2.1");
        let (viewer, key) = guess_subject(Matched::Stranger([0xab; 32]), "192.0.2.1");
        assert!(viewer.is_none());
        assert_eq!(key, "ab".repeat(32));
    }
}
