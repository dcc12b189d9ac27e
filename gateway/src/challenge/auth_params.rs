//! The `auth-param` list of an `Authorization` header (RFC 9110 §11.2):
//! `token=token` or `token="quoted string"`, comma-separated, names case-insensitive.
//!
//! Hand-written because the crates that parse Digest headers are client-side (they parse
//! challenges, not credentials) and this grammar is small; every malformed input is `None`,
//! never a panic.

/// The parameters after the scheme, names lowercased, in order. `None` when malformed, when a
/// name repeats (an ambiguity an attacker could exploit), or when longer than `max_len`.
pub fn parse(input: &str, max_len: usize) -> Option<Vec<(String, String)>> {
    if input.len() > max_len {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut rest = input.trim_start();
    while !rest.is_empty() {
        let (name, after) = token(rest)?;
        let name = name.to_ascii_lowercase();
        let after = after.trim_start().strip_prefix('=')?.trim_start();
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => token(after).map(|(value, after)| (value.to_owned(), after))?,
        };
        if params.iter().any(|(n, _)| *n == name) {
            return None;
        }
        params.push((name, value));
        rest = after.trim_start();
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    Some(params)
}

/// A non-empty run of `tchar`s at the start of `text`, and what follows it.
fn token(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| !is_tchar(c)).unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// The rest of a quoted string after its opening `"`: its value (escapes undone) and what
/// follows the closing quote. `None` when unterminated or holding a control character.
fn quoted_string(quoted: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c if c.is_control() && c != '\t' => return None,
            c => out.push(c),
        }
    }
    None
}

/// RFC 9110 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::parse;

    #[test]
    fn quoted_and_token_values() {
        let params = parse(r#"Username="Mu\"fasa", nc=00000001 ,qop=auth"#, 4096).unwrap();
        assert_eq!(
            params,
            vec![
                ("username".into(), "Mu\"fasa".into()),
                ("nc".into(), "00000001".into()),
                ("qop".into(), "auth".into()),
            ]
        );
    }

    #[test]
    fn malformed_is_none() {
        for bad in [
            "a",
            "a=",
            "=b",
            "a=\"unterminated",
            "a=b c=d",
            "a=b, a=c",
            "a=\"x\u{1}\"",
            "a=b,,",
        ] {
            assert_eq!(parse(bad, 4096), None, "{bad:?}");
        }
        assert_eq!(parse(&"a=b,".repeat(2000), 4096), None);
        assert_eq!(parse("", 4096), Some(vec![]));
    }
}
