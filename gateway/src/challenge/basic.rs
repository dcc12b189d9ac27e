//! HTTP Basic (RFC 7617) with the spec's rule for passwords without a user id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use shared::secret_eq::ct_eq_digest;
use zeroize::Zeroizing;

/// Longest credentials accepted (base64 text).
const MAX_LEN: usize = 4096;

/// The `WWW-Authenticate` value (RFC 7617 §2.1: `charset="UTF-8"`). The realm was checked when
/// stored to hold no `"` or `\`.
pub fn challenge(realm: &str) -> String {
    format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")
}

/// The `user-id:password` text of `Basic <params>`; `None` when it is not base64 of UTF-8.
pub fn decode(params: &str) -> Option<Zeroizing<String>> {
    let params = params.trim();
    if params.len() > MAX_LEN {
        return None;
    }
    let bytes = Zeroizing::new(STANDARD.decode(params).ok()?);
    let text = std::str::from_utf8(&bytes).ok()?;
    text.contains(':').then(|| Zeroizing::new(text.to_owned()))
}

/// Spec, "HTTP Auth": when the stored user-pass string has no colon it is the password alone
/// and the user id the browser sends is discarded; otherwise the whole `user:pass` must match.
/// Constant time in the compared values and their lengths (digests compared).
pub fn matches(sent: &str, secret: &str) -> bool {
    let compared = if secret.contains(':') {
        sent
    } else {
        sent.split_once(':').map_or(sent, |(_, password)| password)
    };
    ct_eq_digest(compared.as_bytes(), secret.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn password_only_secrets_ignore_the_user_id() {
        assert!(matches("anyone:4154445511", "4154445511"));
        assert!(matches(":4154445511", "4154445511"));
        assert!(!matches("anyone:4154445512", "4154445511"));
        // A password may itself hold colons after the first one.
        assert!(!matches("x:a:b", "a:b"));
        assert!(matches("a:b", "a:b"));
        assert!(!matches("a:c", "a:b"));
    }

    #[test]
    fn decodes_rfc7617_example_and_utf8() {
        // RFC 7617 §2: "Aladdin:open sesame".
        assert_eq!(
            decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==").unwrap().as_str(),
            "Aladdin:open sesame"
        );
        // §2.1: "test:123£" in UTF-8.
        assert_eq!(decode("dGVzdDoxMjPCow==").unwrap().as_str(), "test:123£");
        assert!(decode("not base64!").is_none());
        assert!(decode(&STANDARD.encode([0xff, b':', 0xfe])).is_none());
        assert!(decode(&STANDARD.encode("no-colon")).is_none());
    }
}
