//! Byte ranges (RFC 9110 §14) and `If-Range` (§13.1.5): which part of a document a GET gets.
//!
//! Hand-written rather than actix-web's typed `Range`, which silently drops the malformed
//! members of a list (`bytes=0-1,x` would become `bytes=0-1`): here a header is taken whole or
//! ignored whole. Decisions:
//! - **One range only.** A request for several ranges (`bytes=0-9,20-29`) gets the whole
//!   document (200), which RFC 9110 §14.2 allows; `multipart/byteranges` buys viewers nothing
//!   (browsers and video players ask for one range at a time) and costs a second body format.
//! - **Malformed or foreign-unit headers are ignored** (200), as §14.2 requires for units the
//!   server does not understand; a syntactically valid range that starts past the end is 416.
//! - **HEAD ignores Range**: §14.2 defines range handling for GET only.

use std::time::SystemTime;

use actix_web::http::header::HttpDate;
use chrono::{DateTime, Utc};

/// What a GET answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The whole document (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// The range names no byte of the document (416).
    Unsatisfiable,
}

/// The plan for a `Range` header value (`None` when absent) over a document of `size` bytes.
pub fn plan(range: Option<&str>, size: u64) -> Plan {
    let Some((unit, set)) = range.and_then(|value| value.split_once('=')) else {
        return Plan::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Plan::Whole;
    }
    let mut specs = set
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return Plan::Whole; // none, or several
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Plan::Whole;
    };
    match (number(first), number(last)) {
        // `-N`: the last N bytes (all of them when the document is shorter).
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                Plan::Unsatisfiable
            } else {
                Plan::Part {
                    start: size.saturating_sub(suffix),
                    end: size - 1,
                }
            }
        }
        // `N-`: from N to the end.
        (Some(start), None) if last.is_empty() => part(start, u64::MAX, size),
        (Some(start), Some(end)) if start <= end => part(start, end, size),
        _ => Plan::Whole,
    }
}

fn part(start: u64, end: u64, size: u64) -> Plan {
    if start >= size {
        Plan::Unsatisfiable
    } else {
        Plan::Part {
            start,
            end: end.min(size - 1),
        }
    }
}

/// `1*DIGIT`; a value too large for `u64` saturates (it lies past any end either way).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Whether a Range may be honoured given the `If-Range` value (`None` when absent): it must
/// name the current representation by its strong ETag, or by exactly its `Last-Modified` date.
/// Anything else (a weak or other tag, another date, junk) means "send it all" (200).
pub fn if_range_holds(if_range: Option<&str>, etag: &str, last_modified: DateTime<Utc>) -> bool {
    let Some(value) = if_range.map(str::trim) else {
        return true;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        return value == etag;
    }
    match value.parse::<HttpDate>() {
        Ok(date) => {
            let date = DateTime::<Utc>::from(SystemTime::from(date));
            date.timestamp() == last_modified.timestamp()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> Plan {
        Plan::Part { start, end }
    }

    #[test]
    fn single_ranges() {
        let size = 1000;
        for (header, expected) in [
            ("bytes=0-0", part(0, 0)),
            ("bytes=999-999", part(999, 999)),
            ("bytes=10-19", part(10, 19)),
            ("bytes=990-5000", part(990, 999)),
            ("bytes=500-", part(500, 999)),
            ("bytes=-1", part(999, 999)),
            ("bytes=-100", part(900, 999)),
            ("bytes=-5000", part(0, 999)),
            ("bytes=0-99999999999999999999999", part(0, 999)),
            ("BYTES = 1-2 ", part(1, 2)),
            ("bytes=1-2,", part(1, 2)),
            ("bytes=1000-", Plan::Unsatisfiable),
            ("bytes=1000-1001", Plan::Unsatisfiable),
            ("bytes=99999999999999999999999-", Plan::Unsatisfiable),
            ("bytes=-0", Plan::Unsatisfiable),
        ] {
            assert_eq!(plan(Some(header), size), expected, "{header}");
        }
    }

    #[test]
    fn ignored_headers_mean_the_whole_document() {
        for header in [
            "bytes=0-1,5-6",
            "bytes=0-1,x",
            "bytes=5-4",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1 -2",
            "bytes 0-1",
            "items=0-1",
            "",
        ] {
            assert_eq!(plan(Some(header), 1000), Plan::Whole, "{header:?}");
        }
        assert_eq!(plan(None, 1000), Plan::Whole);
    }

    #[test]
    fn an_empty_document_has_no_satisfiable_range() {
        for header in ["bytes=0-0", "bytes=0-", "bytes=-1"] {
            assert_eq!(plan(Some(header), 0), Plan::Unsatisfiable, "{header}");
        }
    }

    #[test]
    fn if_range_needs_the_strong_etag_or_the_exact_date() {
        let etag = "\"abc\"";
        let modified = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let holds = |value| if_range_holds(value, etag, modified);
        assert!(holds(None));
        assert!(holds(Some("\"abc\"")));
        assert!(holds(Some("Wed, 01 May 2024 10:00:00 GMT")));
        assert!(!holds(Some("W/\"abc\"")));
        assert!(!holds(Some("\"abd\"")));
        assert!(!holds(Some("Wed, 01 May 2024 10:00:01 GMT")));
        assert!(!holds(Some("yesterday")));
    }
}
