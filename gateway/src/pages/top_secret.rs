//! The landing page of a top-secret document (media type [`shared::e2e::MEDIA_TYPE`]): the
//! document is `sealpost-e2e-v1` ciphertext that only the viewer's browser decrypts.
//!
//! The page carries the handle URL (`data-handle`) and one static script, served by the gateway
//! at [`SCRIPT_PATH`] and compiled into it ([`SCRIPT`]). The policy allows that script by its
//! SHA-256 (with the matching `integrity` attribute: CSP hashes cover external scripts in
//! Chromium 59+, Firefox 116+, Safari 15.6+), nothing inline, nothing from anywhere else, and
//! lets it `fetch` only the vault's handles (`connect-src {vault}/h/`). The script reads the key
//! from the URL fragment (`#k=…`, which browsers never send to a server) or asks for the
//! passphrase, decrypts segment by segment with WebCrypto and offers the file only once the
//! last segment verified.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use maud::{Markup, html};

/// Where the gateway serves the script.
pub const SCRIPT_PATH: &str = "/assets/sealpost-e2e-v1.js";
/// The script: the browser's `sealpost-e2e-v1` reader (no dependency, no build step).
pub const SCRIPT: &str = include_str!("../../assets/sealpost-e2e-v1.js");

static SCRIPT_HASH: LazyLock<String> = LazyLock::new(|| {
    let digest = ring::digest::digest(&ring::digest::SHA256, SCRIPT.as_bytes());
    format!("sha256-{}", STANDARD.encode(digest.as_ref()))
});

/// `sha256-{base64}` of [`SCRIPT`]: the `integrity` attribute, and (quoted) the policy's source.
pub fn script_hash() -> &'static str {
    &SCRIPT_HASH
}

/// The page's policy: the stylesheet and the script by their hashes, `fetch` to the vault's
/// handles only, no frames, no forms sent anywhere (the passphrase never leaves the page).
pub fn csp(vault_root: &str) -> String {
    // The vault's URL comes from configuration; one that could break out of the directive
    // allows no connection at all rather than something else.
    let clean = !vault_root.is_empty()
        && !vault_root.contains(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '\'');
    let connect = if clean {
        format!("{vault_root}/h/")
    } else {
        "'none'".to_owned()
    };
    format!(
        "default-src 'none'; script-src '{}'; style-src {}; connect-src {connect}; img-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        script_hash(),
        *super::STYLE_HASH,
    )
}

/// The page for `handle_url`; `test` says it is a test document, as the default page does.
pub fn page(handle_url: &str, ttl_minutes: u64, test: bool) -> Markup {
    let title = if test {
        "Test document"
    } else {
        "Your document"
    };
    super::layout(
        title,
        html! {
            @if test {
                p.test role="note" {
                    "Test document: this is test data from the sender's test environment, not a real document."
                }
            }
            h1 { "Your document is encrypted" }
            div #e2e data-handle=(handle_url) {
                p #status role="status" aria-live="polite" { "Preparing to decrypt…" }
                p.alert #error role="alert" hidden {}
                form #passphrase-form hidden {
                    label for="passphrase" { "Passphrase (the sender gave it to you separately)" }
                    input #passphrase type="password" autocomplete="off" required;
                    button type="submit" { "Decrypt" }
                }
                p #save hidden { a.open #save-link { "Save the document" } }
            }
            noscript {
                p.alert { "This document is decrypted in your browser, which needs JavaScript. Turn it on for this page, or ask the sender for another way." }
            }
            p.small {
                "It is decrypted here, in your browser: the key never reaches the server. "
                "This page works for " (ttl_minutes) " minutes; after that, open the link from your message again."
            }
            p.small {
                "A very large file? Give " code { "sealpost get" } " the address of "
                a href=(handle_url) rel="noreferrer" { "the encrypted file" }
                " (or the link you opened) and the same key or passphrase: it downloads and decrypts it."
            }
            script src=(SCRIPT_PATH) integrity=(script_hash()) defer {}
        },
    )
}

/// The page with its policy and the headers of every gateway page.
pub fn respond(handle_url: &str, ttl_minutes: u64, test: bool, vault_root: &str) -> HttpResponse {
    let page = page(handle_url, ttl_minutes, test);
    super::respond_with_policy(StatusCode::OK, page, &csp(vault_root))
}

/// `GET /assets/sealpost-e2e-v1.js`. Revalidated on every use (`no-cache`): a page from a newer
/// gateway names a newer hash, and a stale cached copy would fail it.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ETAG, format!("\"{}\"", script_hash())))
        .body(SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_script_by_hash_and_fetches_to_the_vault_only() {
        let policy = csp("https://vault.example");
        assert!(
            policy.contains(&format!("script-src '{}';", script_hash())),
            "{policy}"
        );
        assert!(
            policy.contains("connect-src https://vault.example/h/;"),
            "{policy}"
        );
        assert!(policy.contains("form-action 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(csp("https://v.example; script-src *").contains("connect-src 'none'"));
    }

    #[test]
    fn the_page_carries_the_handle_and_no_inline_script() {
        let page = page("https://v/h/x\"><script>", 5, false).into_string();
        assert!(
            page.contains("data-handle=\"https://v/h/x&quot;&gt;&lt;script&gt;\""),
            "{page}"
        );
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(
            page.contains(&format!(
                "<script src=\"{SCRIPT_PATH}\" integrity=\"{}\" defer></script>",
                script_hash()
            )),
            "{page}"
        );
        assert!(!page.contains("javascript:"), "{page}");
    }
}
