//! Absolute `http(s)` URLs and the fixed start of URL templates.
//!
//! Small and strict on purpose: an href that Sealpost will call or frame must name its
//! scheme and, where it is literal, its host unambiguously. Credentials in the authority
//! (`user:pass@host`) are refused everywhere: they would be stored and shown back, and
//! `https://trusted.example@evil.example/` is a classic way to mislead a reader.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::template::Template;

/// Longest plain URL accepted, in bytes.
const MAX_URL_LEN: usize = 2048;

/// Which schemes an href may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schemes {
    /// `https` only.
    Https,
    /// `https`, or `http` to a loopback host (127.0.0.0/8, `::1`, `localhost`), so tests
    /// and a provider on the same machine work without a certificate.
    HttpsOrLoopbackHttp,
    /// `https` or `http`, to any host.
    HttpOrHttps,
}

impl Schemes {
    fn describe(self) -> &'static str {
        match self {
            Schemes::Https => "an absolute https:// URL",
            Schemes::HttpsOrLoopbackHttp => {
                "an absolute https:// URL (http:// only to a loopback host: 127.0.0.0/8, [::1], localhost)"
            }
            Schemes::HttpOrHttps => "an absolute http:// or https:// URL",
        }
    }
}

/// Splits `text` after an `http://` or `https://` scheme (any case): (is https, rest).
fn split_scheme(text: &str) -> Option<(bool, &str)> {
    let starts = |prefix: &str| {
        text.get(..prefix.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
    };
    if starts("https://") {
        Some((true, &text[8..]))
    } else if starts("http://") {
        Some((false, &text[7..]))
    } else {
        None
    }
}

/// Checks a plain URL (not a template).
pub(crate) fn check_url(text: &str, schemes: Schemes) -> Result<(), String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!("is longer than {MAX_URL_LEN} bytes"));
    }
    if let Some(bad) = text.chars().find(|&c| !is_uri_char(c)) {
        return Err(format!(
            "must be {}; it contains the character U+{:04X}",
            schemes.describe(),
            u32::from(bad)
        ));
    }
    let bytes = text.as_bytes();
    let bad_percent = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if bad_percent {
        return Err("has a `%` that does not start a percent-encoded octet".to_owned());
    }
    if text.contains('#') {
        return Err("must not have a fragment (`#…`)".to_owned());
    }
    let (https, rest) =
        split_scheme(text).ok_or_else(|| format!("must be {}", schemes.describe()))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    check_authority(authority, https, schemes)
}

/// Checks the literal start of a URL template: the scheme can never come from a variable,
/// and the authority, as far as it is literal, holds no credentials and a valid host.
pub(crate) fn check_template_prefix(template: &Template, schemes: Schemes) -> Result<(), String> {
    let prefix = template.literal_prefix();
    let whole = prefix.len() == template.as_str().len();
    let (https, rest) = split_scheme(prefix).ok_or_else(|| {
        format!(
            "must be {} whose scheme is written out, not taken from a variable",
            schemes.describe()
        )
    })?;
    match rest.find(['/', '?', '#']) {
        Some(end) => check_authority(&rest[..end], https, schemes),
        None if whole => check_authority(rest, https, schemes),
        // The host ends in a variable: only the literal part can be checked here.
        None if rest.contains('@') => Err("must not contain credentials (`user@host`)".to_owned()),
        None if !https && schemes != Schemes::HttpOrHttps => {
            Err(format!("must be {}", schemes.describe()))
        }
        None => Ok(()),
    }
}

/// `host [":" port]`, with no userinfo.
fn check_authority(authority: &str, https: bool, schemes: Schemes) -> Result<(), String> {
    if authority.contains('@') {
        return Err("must not contain credentials (`user@host`)".to_owned());
    }
    let (host, port) = match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => {
            (&authority[..colon], Some(&authority[colon + 1..]))
        }
        _ => (authority, None),
    };
    if let Some(port) = port {
        let valid = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        if !valid || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err("has an invalid port".to_owned());
        }
    }
    let loopback = check_host(host)?;
    match schemes {
        Schemes::Https if !https => Err(format!("must be {}", schemes.describe())),
        Schemes::HttpsOrLoopbackHttp if !https && !loopback => {
            Err(format!("must be {}", schemes.describe()))
        }
        _ => Ok(()),
    }
}

/// Checks a host; returns whether it is a loopback host.
fn check_host(host: &str) -> Result<bool, String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| "has an invalid IPv6 address".to_owned())?;
        return Ok(ip.is_loopback());
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(ip.is_loopback());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err("must name a valid host".to_owned());
    }
    Ok(name.eq_ignore_ascii_case("localhost"))
}

/// RFC 3986 unreserved, reserved and `%` characters.
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}
