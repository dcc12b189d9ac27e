//! The gateway's two OAuth cookies, signed with an HMAC key derived from the gateway's signing
//! key (so every gateway with that key accepts them) and never holding a secret:
//!
//! - the **state** cookie binds a sign-in to the browser that started it: its name carries a
//!   prefix of the `state`, its value the whole state and an expiry (several tabs can sign in
//!   at once; `Path=/oauth/callback`);
//! - the **session** cookie lets a viewer who signed in get handles for one document without
//!   another dance until it expires; it names the document and the viewer's digest.
//!
//! Both are `HttpOnly; SameSite=Lax` (the provider's redirect back is a top-level GET, which
//! Lax allows), and `Secure` when the gateway's public URL is https.

use actix_web::cookie::{Cookie, SameSite, time};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::hmac;

const STATE_PREFIX: &str = "sealpost_state_";
const SESSION_PREFIX: &str = "sealpost_session_";
/// Characters of the state (or document id) in a cookie's name.
const NAME_CHARS: usize = 12;

/// Signs and checks cookie values.
pub struct CookieSigner {
    key: hmac::Key,
    secure: bool,
}

impl CookieSigner {
    pub fn new(secret: &[u8], secure: bool) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            secure,
        }
    }

    fn sign(&self, kind: &str, payload: &str) -> String {
        let tag = hmac::sign(&self.key, format!("{kind}\n{payload}").as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]))
    }

    /// The payload of a value this signer made for `kind`, when the tag verifies.
    fn open<'v>(&self, kind: &str, value: &'v str) -> Option<&'v str> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let full = hmac::sign(&self.key, format!("{kind}\n{payload}").as_bytes());
        // Constant time: ring's verify compares the whole tag; compare our 16-byte prefix.
        subtle::ConstantTimeEq::ct_eq(&full.as_ref()[..16], tag.as_slice())
            .unwrap_u8()
            .eq(&1)
            .then_some(payload)
    }

    fn cookie(
        &self,
        name: String,
        value: String,
        path: &str,
        max_age_secs: i64,
    ) -> Cookie<'static> {
        Cookie::build(name, value)
            .path(path.to_owned())
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(time::Duration::seconds(max_age_secs.max(0)))
            .finish()
    }

    /// The state cookie for `state`, valid until `expires_at`.
    pub fn state_cookie(
        &self,
        state: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Cookie<'static> {
        let value = self.sign("state", &format!("{state}~{}", expires_at.timestamp()));
        self.cookie(
            state_name(state),
            value,
            "/oauth/callback",
            (expires_at - now).num_seconds(),
        )
    }

    /// Whether the browser holds a live state cookie for exactly `state`.
    pub fn state_matches(&self, cookie_value: &str, state: &str, now: DateTime<Utc>) -> bool {
        let Some((signed_state, expiry)) = self
            .open("state", cookie_value)
            .and_then(|p| p.rsplit_once('~'))
        else {
            return false;
        };
        let live = expiry
            .parse::<i64>()
            .is_ok_and(|expiry| expiry > now.timestamp());
        let same = bool::from(subtle::ConstantTimeEq::ct_eq(
            signed_state.as_bytes(),
            state.as_bytes(),
        ));
        live & same
    }

    /// Removes the state cookie once used.
    pub fn clear_state(&self, state: &str) -> Cookie<'static> {
        self.cookie(state_name(state), String::new(), "/oauth/callback", 0)
    }

    /// The session cookie for (`document`, `viewer`) until `expires_at`.
    pub fn session_cookie(
        &self,
        document: &str,
        viewer: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Cookie<'static> {
        let value = self.sign(
            "session",
            &format!("{document}~{viewer}~{}", expires_at.timestamp()),
        );
        self.cookie(
            session_name(document),
            value,
            "/",
            (expires_at - now).num_seconds(),
        )
    }

    /// Whether `cookie_value` is a live session for (`document`, `viewer`).
    pub fn session_valid(
        &self,
        cookie_value: &str,
        document: &str,
        viewer: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(payload) = self.open("session", cookie_value) else {
            return false;
        };
        let mut parts = payload.split('~');
        let (Some(d), Some(v), Some(expiry), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        d == document && v == viewer && expiry.parse::<i64>().is_ok_and(|e| e > now.timestamp())
    }
}

pub fn state_name(state: &str) -> String {
    format!("{STATE_PREFIX}{}", prefix(state))
}

pub fn session_name(document: &str) -> String {
    format!("{SESSION_PREFIX}{}", prefix(document))
}

fn prefix(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(NAME_CHARS)
        .map_or(text.len(), |(i, _)| i);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_cookies_bind_one_state_until_expiry() {
        let signer = CookieSigner::new(b"k", false);
        let now = Utc::now();
        let cookie =
            signer.state_cookie("abcdefghijklmnop", now + chrono::Duration::seconds(60), now);
        assert_eq!(cookie.name(), "sealpost_state_abcdefghijkl");
        assert!(cookie.http_only().unwrap_or(false));
        assert!(signer.state_matches(cookie.value(), "abcdefghijklmnop", now));
        assert!(!signer.state_matches(cookie.value(), "abcdefghijklmnoq", now));
        assert!(!signer.state_matches(
            cookie.value(),
            "abcdefghijklmnop",
            now + chrono::Duration::seconds(61)
        ));
        let other = CookieSigner::new(b"other", false);
        assert!(!other.state_matches(cookie.value(), "abcdefghijklmnop", now));
        assert!(!signer.state_matches("junk", "junk", now));
    }

    #[test]
    fn sessions_name_one_document_and_viewer() {
        let signer = CookieSigner::new(b"k", true);
        let now = Utc::now();
        let cookie =
            signer.session_cookie("doc1", "viewer1", now + chrono::Duration::seconds(60), now);
        assert!(cookie.secure().unwrap_or(false));
        assert!(signer.session_valid(cookie.value(), "doc1", "viewer1", now));
        assert!(!signer.session_valid(cookie.value(), "doc2", "viewer1", now));
        assert!(!signer.session_valid(cookie.value(), "doc1", "viewer2", now));
        assert!(!signer.session_valid(
            cookie.value(),
            "doc1",
            "viewer1",
            now + chrono::Duration::seconds(61)
        ));
        let forged = cookie.value().replace("doc1", "doc2");
        assert!(!signer.session_valid(&forged, "doc2", "viewer1", now));
    }
}
