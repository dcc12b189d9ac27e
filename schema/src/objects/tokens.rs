//! Small strings that end up in protocol headers or messages: HTTP tokens and media types,
//! email addresses, HTTP-Auth realms, OAuth scopes. Each check is strict, so what is stored
//! can be sent as is.

/// RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `type "/" subtype` tokens, then optional printable `; parameter`s.
pub(crate) fn is_media_type(text: &str) -> bool {
    let (essence, parameters) = text
        .split_once(';')
        .map_or((text, None), |(e, p)| (e, Some(p)));
    let token = |t: &str| !t.is_empty() && t.bytes().all(is_tchar);
    let essence_ok = essence
        .trim_end()
        .split_once('/')
        .is_some_and(|(t, s)| token(t) && token(s));
    essence_ok
        && parameters.is_none_or(|p| p.chars().all(|c| c == '\t' || matches!(c, ' '..='~')))
        && text.len() <= 256
}

/// `local@domain`, ASCII only: `local` of RFC 5322 atext with single dots, `domain` host labels.
pub(crate) fn is_email_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = (1..=64).contains(&local.len())
        && local
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(atext));
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    local_ok && text.len() <= 254 && domain.split('.').all(label_ok)
}

/// An HTTP-Auth realm: see [`super::Challenge::HttpAuth`].
pub(crate) fn check_realm(realm: &str) -> Result<(), &'static str> {
    if realm.is_empty() {
        return Err("must not be empty");
    }
    if realm.chars().count() > 256 {
        return Err("must be at most 256 characters long");
    }
    if !realm
        .chars()
        .all(|c| matches!(c, ' '..='~') && c != '"' && c != '\\')
    {
        return Err(
            "must be printable ASCII without `\"` or `\\`: it is sent in a WWW-Authenticate header",
        );
    }
    Ok(())
}

/// RFC 6749 §3.3: `scope-token *( SP scope-token )`.
pub(crate) fn check_scope(scope: &str) -> Result<(), &'static str> {
    let token_ok =
        |t: &str| !t.is_empty() && t.chars().all(|c| matches!(c, '!' | '#'..='[' | ']'..='~'));
    if scope.len() > 1024 || !scope.split(' ').all(token_ok) {
        return Err(
            "must be OAuth scope tokens separated by single spaces (RFC 6749), such as \"openid email\"",
        );
    }
    Ok(())
}
