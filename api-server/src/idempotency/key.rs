//! The `Idempotency-Key` request header (IETF httpapi draft): a Structured Field string, e.g.
//! `Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`. A bare value (no quotes), as
//! many clients send it, is accepted too and means the same key.

use actix_web::HttpRequest;

use crate::error::ApiError;

/// The header's name, as problems name it.
pub const HEADER: &str = "Idempotency-Key";

/// The longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 255;

/// The key a request carries, if any: 1 to [`MAX_KEY_CHARS`] printable ASCII characters
/// (space to `~`) once the quotes of a Structured Field string are taken off. Anything else,
/// or the header given twice, is a 400 naming the header.
pub fn from_request(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = request.headers().get_all(HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("is given more than once"));
    }
    let text = value.to_str().map_err(|_| bad("must be printable ASCII"))?;
    parse(text.trim()).map(Some)
}

/// The key of one header value (surrounding whitespace removed).
pub fn parse(text: &str) -> Result<String, ApiError> {
    let key = match text.strip_prefix('"') {
        Some(quoted) => unquote(quoted)?,
        None => text.to_owned(),
    };
    if key.is_empty() {
        return Err(bad("must not be empty"));
    }
    if !key.bytes().all(|byte| (b' '..=b'~').contains(&byte)) {
        return Err(bad("must be printable ASCII"));
    }
    if key.len() > MAX_KEY_CHARS {
        return Err(bad(&format!("must be at most {MAX_KEY_CHARS} characters")));
    }
    Ok(key)
}

/// The content of a Structured Field string whose opening quote is gone (RFC 8941, 4.2.5):
/// `\"` and `\\` are the only escapes, and the closing quote must end the value.
fn unquote(quoted: &str) -> Result<String, ApiError> {
    let mut key = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(char) = chars.next() {
        match char {
            '\\' => match chars.next() {
                Some(escaped @ ('"' | '\\')) => key.push(escaped),
                _ => return Err(bad("is a malformed quoted string")),
            },
            '"' if chars.as_str().is_empty() => return Ok(key),
            '"' => return Err(bad("is a malformed quoted string")),
            other => key.push(other),
        }
    }
    Err(bad("is a malformed quoted string"))
}

fn bad(detail: &str) -> ApiError {
    ApiError::bad_request(HEADER, format!("the {HEADER} header {detail}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_quoted_and_a_bare_key_are_the_same_key() {
        assert_eq!(parse("\"abc-123\"").unwrap(), "abc-123");
        assert_eq!(parse("abc-123").unwrap(), "abc-123");
        assert_eq!(parse(r#""a\"b\\c""#).unwrap(), r#"a"b\c"#);
    }

    #[test]
    fn empty_long_and_non_ascii_keys_are_refused() {
        assert!(parse("").is_err());
        assert!(parse("\"\"").is_err());
        assert!(parse(&"k".repeat(MAX_KEY_CHARS)).is_ok());
        assert!(parse(&"k".repeat(MAX_KEY_CHARS + 1)).is_err());
        assert!(parse("clé").is_err());
        assert!(parse("\"open").is_err());
        assert!(parse("\"a\"b\"").is_err());
    }
}
