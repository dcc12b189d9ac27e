//! What of a request may enter a log. Handles are bearer secrets: no form of one is ever kept,
//! whatever path, header or mistake it arrives in (a verified one is logged as its nonce, the
//! id the gateway logged when it issued it). Query strings and fragments are dropped (viewer
//! tokens travel there), long path segments replaced, and paths, referers and user agents cut
//! to a bounded length.

use shared::handle::Nonce;

/// Prefix of handle paths.
const HANDLE_PREFIX: &str = "/h/";
/// Longest path segment kept as sent. Every id Sealpost hands out is 22 characters; a handle is
/// 206, so no handle survives intact even when sent to a wrong path.
const MAX_SEGMENT: usize = 64;
/// Longest path, referer or user agent kept, in characters.
const MAX_TEXT: usize = 512;

/// `/h/<redacted:NONCE>` when the handle verified (the nonce is the correlation id the gateway
/// logged when it issued the handle), `/h/<redacted>` for anything else under `/h/`; any other
/// path with long segments replaced. The query string is dropped: viewer tokens travel there.
pub fn path(path: &str, nonce: Option<&Nonce>) -> String {
    let path = without_query(path);
    if path.starts_with(HANDLE_PREFIX) {
        return match nonce {
            Some(nonce) => format!("{HANDLE_PREFIX}<redacted:{nonce}>"),
            None => format!("{HANDLE_PREFIX}<redacted>"),
        };
    }
    segments(path)
}

/// A `Referer` as it may be logged: no query or fragment, no handle, no long segment.
pub fn referer(value: &str) -> String {
    let value = without_query(value);
    match value.find(HANDLE_PREFIX) {
        Some(at) => format!("{}<redacted>", &value[..at + HANDLE_PREFIX.len()]),
        None => segments(value),
    }
}

/// Free text (a user agent), cut to a sane length.
pub fn text(value: &str) -> String {
    value.chars().take(MAX_TEXT).collect()
}

fn without_query(value: &str) -> &str {
    value.split(['?', '#']).next().unwrap_or_default()
}

fn segments(path: &str) -> String {
    let kept: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if segment.len() > MAX_SEGMENT {
                "<redacted>"
            } else {
                segment
            }
        })
        .collect();
    text(&kept.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDLE: &str = "AXr4c0bdcKk3Qm5wS1l2b1hqNnF0S3JXYlBQaGdvUnA5UzRNRGFqYnZMN3NNdzN6RkxxWE1RaG1Ua0FWbmFkMFRMV0FBQUFBQUdadWZrM2xqR1BIVHZwV3JYSlNRZGNENlhGRzVXN3ZhWmNUbFRqZ3JZbmpxWFdLSHo5TU9BQUE";

    #[test]
    fn handles_never_survive() {
        let nonce = Nonce([1; 16]);
        assert_eq!(
            path(&format!("/h/{HANDLE}"), Some(&nonce)),
            format!("/h/<redacted:{nonce}>")
        );
        for sent in [
            format!("/h/{HANDLE}"),
            format!("/h/{HANDLE}/x?y=1"),
            format!("/H/{HANDLE}"),
            format!("//h/{HANDLE}"),
            format!("/x/{HANDLE}/y"),
            format!("/?h={HANDLE}"),
        ] {
            let logged = path(&sent, None);
            assert!(!logged.contains(&HANDLE[..40]), "{sent} → {logged}");
        }
        assert_eq!(path("/favicon.ico?x=1", None), "/favicon.ico");
    }

    #[test]
    fn referers_lose_queries_and_handles() {
        assert_eq!(
            referer("https://gw.example/k3q?telephone=4155550100#top"),
            "https://gw.example/k3q"
        );
        assert_eq!(
            referer(&format!("https://vault.example/h/{HANDLE}")),
            "https://vault.example/h/<redacted>"
        );
    }
}
