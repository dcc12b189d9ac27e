//! `PUT /documents/{docId}/document{?lastModified}`: replace the content in place; and the
//! media type every stored content gets ([`normalise_media_type`]).

use std::fmt::Write as _;

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::{Outcome, write};
use crate::auth::Principal;
use crate::content_store::StoredContent;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Streams the new content into the vault, then swaps it into the record (same placeholder).
/// The old content is destroyed only after the record points at the new one; a refused or
/// failed swap destroys the new content instead.
pub async fn replace_content<S>(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    media_type: String,
    body: S,
    unmodified_since: Option<DateTime<Utc>>,
) -> Result<Outcome<()>, ApiError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    // Refuse early what would be refused after the upload anyway.
    let current = super::find(context, principal, id).await?;
    if unmodified_since.is_some_and(|since| current.last_modified > since) {
        return Ok(Outcome::NotModified);
    }
    let object = super::store_content(context, body).await?;
    let size = i64::try_from(object.size()).map_err(ApiError::internal)?;
    let outcome = write(context, principal, id, unmodified_since, |record| {
        let mut next = record.clone();
        next.object_key = object.key().clone();
        next.size = size;
        next.media_type = media_type.clone();
        // The algorithm stays the one returned at insertion (spec, Retrieve, footnote 1).
        next.hash_value = object.sha1_hex().to_owned();
        Ok(next)
    })
    .await;
    settle(context, object, outcome).await
}

/// Keeps the new content and destroys the old once the record points at it; otherwise
/// destroys the new content (nothing refers to it).
async fn settle(
    context: &ApiContext,
    object: StoredContent,
    outcome: Result<Outcome<super::Written>, ApiError>,
) -> Result<Outcome<()>, ApiError> {
    match outcome {
        Ok(Outcome::Done(written)) => {
            object.keep();
            super::destroy_content(context, &written.previous.object_key).await;
            Ok(Outcome::Done(()))
        }
        Ok(Outcome::NotModified) => {
            object.discard().await;
            Ok(Outcome::NotModified)
        }
        Err(error) => {
            object.discard().await;
            Err(error)
        }
    }
}

/// Longest media type kept (RFC 6838 caps type and subtype at 127 characters each).
const MAX_MEDIA_TYPE: usize = 255;

/// `text` as a media type to store and later send as `Content-Type`, or 422 naming `field`.
/// Parsed with `mime` (RFC 9110 `type/subtype *(; name=value)`), so a value with injected
/// quotes or parameters (`text/html; charset=utf-8"; x="y`) is refused rather than stored and
/// replayed; wildcards are no type. Stored normalised: type, subtype, parameter names and the
/// charset lowercased, values quoted only when they must be.
pub fn normalise_media_type(text: &str, field: &str) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::invalid(
            field,
            "is not a valid media type (type/subtype, then optional ; name=value parameters)",
        )
    };
    if text.len() > MAX_MEDIA_TYPE {
        return Err(invalid());
    }
    let parsed: mime::Mime = text.trim().parse().map_err(|_| invalid())?;
    if parsed.type_() == mime::STAR || parsed.subtype() == mime::STAR {
        return Err(invalid());
    }
    let mut normal = parsed.essence_str().to_ascii_lowercase();
    for (name, value) in parsed.params() {
        let name = name.as_str().to_ascii_lowercase();
        let mut value = value.as_str().to_owned();
        if name == "charset" {
            value.make_ascii_lowercase();
        }
        if !value.is_empty() && value.bytes().all(is_token_byte) {
            let _ = write!(normal, "; {name}={value}");
        } else {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(normal, "; {name}=\"{escaped}\"");
        }
    }
    // Whatever is stored must go back out as a header unchanged.
    if normal.len() > MAX_MEDIA_TYPE || HeaderValue::from_str(&normal).is_err() {
        return Err(invalid());
    }
    Ok(normal)
}

/// An RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn media_types_are_normalised() {
        for (given, stored) in [
            ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
            ("Text/Plain; Charset=\"UTF-8\"", "text/plain; charset=utf-8"),
            ("application/pdf", "application/pdf"),
            ("text/plain;charset=utf-8;", "text/plain; charset=utf-8"),
            ("a/b; name=\"x y\"", "a/b; name=\"x y\""),
        ] {
            assert_eq!(normalise_media_type(given, "f").unwrap(), stored, "{given}");
        }
    }

    #[test]
    fn malformed_media_types_are_refused() {
        for junk in [
            "text/html; charset=utf-8\"; x=\"y",
            "text/html; charset=utf-8\r\nX-Injected: 1",
            "text",
            "*/*",
            "text/*",
            "text/plain; charset",
            "text/plain; a=\"b",
            "",
            &format!("text/{}", "x".repeat(300)),
        ] {
            let error = normalise_media_type(junk, "Content-Type").unwrap_err();
            assert!(
                matches!(&error, ApiError::Invalid { field, .. } if field == "Content-Type"),
                "{junk:?}: {error:?}"
            );
        }
    }
}
