//! The spec's "Challenge Specification": HTTP Basic and Digest (RFC 7617, RFC 7616) are run here;
//! OAuth, a redirect dance rather than a header, is [`crate::oauth`].
//!
//! [`check_http_auth`] turns an `Authorization` header into an [`Outcome`]; the caller owns the
//! brute-force limits ([`crate::limits`]: each guess is reserved before it is compared) and the
//! response. A Digest pass comes back as [`Outcome::PassOnce`]: the caller records its request
//! counter with [`ReplayGuard`] (in the database every gateway shares) so a captured request
//! cannot be sent again, to this gateway or another.

pub mod auth_params;
pub mod basic;
pub mod digest;
mod replay;

use chrono::{DateTime, Utc};
use schema::objects::Scheme;
use shared::secret_eq::ct_eq_digest;

pub use replay::ReplayGuard;

use digest::{CounterUse, Credentials, NonceKey, NonceState};

/// What a request's credentials amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The credentials prove the secret.
    Pass,
    /// Digest credentials prove the secret: a pass once this request counter is recorded as
    /// used for the first time ([`ReplayGuard::first_use`]), else a replay (ask again).
    PassOnce(CounterUse),
    /// No usable credentials (none sent, a nonce no gateway sharing the key issued, a replayed
    /// counter): challenge again without counting a failure, since nothing was guessed.
    /// `stale` asks a browser to retry with a fresh nonce without prompting the viewer.
    Ask { stale: bool },
    /// A guess that was wrong: counted by the brute-force limits.
    Failed,
    /// Digest credentials for another request URI (RFC 7616 §3.4.6): 400.
    WrongUri,
}

/// The request facts the HTTP Auth check needs.
pub struct AuthRequest<'a> {
    pub authorization: Option<&'a str>,
    pub method: &'a str,
    /// The request-target exactly as sent (path and query): what a Digest `uri` must equal.
    pub target: &'a str,
    /// What nonces are bound to (the placeholder), so a nonce is good for one document only.
    pub scope: &'a str,
    pub now: DateTime<Utc>,
}

/// Checks `request` against the user-pass string `secret` (spec, "HTTP Auth").
pub fn check_http_auth(
    scheme: Scheme,
    realm: &str,
    secret: &str,
    request: &AuthRequest<'_>,
    nonces: &NonceKey,
) -> Outcome {
    let Some(header) = request.authorization else {
        return Outcome::Ask { stale: false };
    };
    let (name, params) = header.trim().split_once(' ').unwrap_or((header, ""));
    match scheme {
        Scheme::Basic if name.eq_ignore_ascii_case("Basic") => match basic::decode(params) {
            Some(sent) if basic::matches(&sent, secret) => Outcome::Pass,
            Some(_) => Outcome::Failed,
            None => Outcome::Ask { stale: false },
        },
        Scheme::Digest if name.eq_ignore_ascii_case("Digest") => {
            check_digest(realm, secret, params, request, nonces)
        }
        _ => Outcome::Ask { stale: false },
    }
}

/// The `WWW-Authenticate` values that ask for credentials: Basic's one, or one Digest value
/// per algorithm offered under a fresh nonce bound to `request.scope`. `stale` asks a browser to
/// retry with the fresh nonce without prompting the viewer.
pub fn www_authenticate(
    scheme: Scheme,
    realm: &str,
    request: &AuthRequest<'_>,
    nonces: &NonceKey,
    stale: bool,
) -> Vec<String> {
    match scheme {
        Scheme::Basic => vec![basic::challenge(realm)],
        Scheme::Digest => {
            let salt = shared::handle::Nonce::random().0;
            let mut short = [0u8; 8];
            short.copy_from_slice(&salt[..8]);
            let nonce = nonces.issue(request.now, request.scope, short);
            digest::challenges(realm, &nonce, "sealpost", stale)
        }
    }
}

fn check_digest(
    realm: &str,
    secret: &str,
    params: &str,
    request: &AuthRequest<'_>,
    nonces: &NonceKey,
) -> Outcome {
    let Some(credentials) = Credentials::parse(params) else {
        return Outcome::Ask { stale: false };
    };
    if credentials.realm != realm {
        return Outcome::Ask { stale: false };
    }
    let nonce_state = nonces.check(&credentials.nonce, request.now, request.scope);
    if nonce_state == NonceState::Invalid {
        return Outcome::Ask { stale: false };
    }
    if credentials.uri != request.target {
        return Outcome::WrongUri;
    }
    // A digest secret is `userid:passwd` (checked when the producer stored it).
    let (user, password) = secret.split_once(':').unwrap_or(("", secret));
    let user_ok = ct_eq_digest(credentials.username.as_bytes(), user.as_bytes());
    let proves = credentials.proves(request.method, password);
    if !(user_ok & proves) {
        return Outcome::Failed;
    }
    if nonce_state == NonceState::Stale {
        return Outcome::Ask { stale: true };
    }
    Outcome::PassOnce(credentials.counter_use())
}
