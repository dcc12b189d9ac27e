//! `Content-Disposition` with the document's name (RFC 6266 / RFC 8187): `inline` for the
//! media types a browser shows without running anything ([`is_inline_safe`]), `attachment` for
//! every other (HTML, SVG, XML, scripts, unknown types), so active content is saved, never
//! rendered as the serving origin, even where a browser ignores `Content-Security-Policy`.
//!
//! The name is the producer's text, so it is made harmless before it reaches a header or a
//! viewer's disk: control and bidirectional-override characters are removed (no header
//! injection, no `exe.pdf` spoofing with U+202E), double quotes, backslashes and path
//! separators become `_` (no escaping out of the quoted string, no `../` or directory names),
//! leading dots and surrounding blanks are trimmed (no hidden files), and the length is capped.
//! `filename*` carries the UTF-8 name; `filename` an ASCII fallback for old clients.

use std::fmt::Write as _;

/// Longest name kept, in characters.
const MAX_NAME: usize = 200;
/// The name when nothing usable is left.
const FALLBACK: &str = "document";

/// Media types shown inline: documents, images, sound and video that carry no script (not
/// SVG, which can). Matched on the essence, lowercased; everything else is an attachment.
const INLINE_SAFE: &[&str] = &[
    "application/pdf",
    "text/plain",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
];

/// Whether `media_type` may be shown inline: a listed type, or any `audio/*` or `video/*`.
pub fn is_inline_safe(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    INLINE_SAFE.contains(&essence.as_str())
        || ["audio/", "video/"]
            .iter()
            .any(|top| essence.strip_prefix(top).is_some_and(is_token))
}

/// A non-empty RFC 9110 token (a subtype with no parameter or junk attached).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The header value for a document called `name` of type `media_type`.
pub fn for_type(media_type: &str, name: &str) -> String {
    if is_inline_safe(media_type) {
        inline(name)
    } else {
        with_kind("attachment", name)
    }
}

/// `inline` with the document's name.
pub fn inline(name: &str) -> String {
    with_kind("inline", name)
}

fn with_kind(kind: &str, name: &str) -> String {
    let name = sanitise(name);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''");
    for byte in name.bytes() {
        if is_attr_char(byte) {
            value.push(char::from(byte));
        } else {
            let _ = write!(value, "%{byte:02X}");
        }
    }
    value
}

/// The name with everything dangerous removed; never empty.
pub fn sanitise(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .map(|c| match c {
            '"' | '\\' | '/' => '_',
            c => c,
        })
        .take(MAX_NAME)
        .collect();
    let trimmed = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() {
        FALLBACK.to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Bidirectional controls and zero-width characters: invisible, and able to disguise a name.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// RFC 8187 `attr-char`: sent as is; every other byte is percent-encoded.
fn is_attr_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        assert_eq!(
            inline("report 2024.pdf"),
            "inline; filename=\"report 2024.pdf\"; filename*=UTF-8''report%202024.pdf"
        );
    }

    #[test]
    fn only_passive_types_are_inline() {
        for safe in [
            "application/pdf",
            "Text/Plain; charset=utf-8",
            "image/png",
            "video/mp4",
            "audio/mpeg",
        ] {
            assert!(is_inline_safe(safe), "{safe}");
        }
        for active in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "application/octet-stream",
            "video/",
            "text/plainx",
            "",
        ] {
            assert!(!is_inline_safe(active), "{active}");
            assert!(for_type(active, "a.html").starts_with("attachment; "));
        }
    }

    #[test]
    fn hostile_names_are_defused() {
        for (name, clean) in [
            ("a\"b\".pdf", "a_b_.pdf"),
            ("../../etc/passwd", "_.._etc_passwd"),
            ("..\\win.ini", "_win.ini"),
            ("line\r\nSet-Cookie: x=1", "lineSet-Cookie: x=1"),
            ("tab\there", "tabhere"),
            ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
            ("  .hidden  ", "hidden"),
            ("\u{0}\u{7}", "document"),
            ("...", "document"),
        ] {
            assert_eq!(sanitise(name), clean, "{name:?}");
        }
        assert_eq!(sanitise(&"x".repeat(1000)).len(), MAX_NAME);
    }

    #[test]
    fn unicode_goes_in_filename_star_with_an_ascii_fallback() {
        assert_eq!(
            inline("Résumé 100%.pdf"),
            "inline; filename=\"R_sum_ 100_.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20100%25.pdf"
        );
        let header = inline("日本語.txt");
        assert!(header.is_ascii());
        assert!(
            header.ends_with("%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"),
            "{header}"
        );
    }
}
