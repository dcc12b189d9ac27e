//! The gateway's pages: server-rendered HTML, no external assets, no JavaScript (but the one
//! script of a top-secret document's page, [`top_secret`]), `lang` set, readable on a phone.
//! Every value is escaped by `maud`.
//!
//! The one stylesheet is inline and allowed by its hash in the Content-Security-Policy
//! ([`csp`]), so the policy can forbid everything else.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use maud::{DOCTYPE, Markup, html};

pub mod top_secret;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;line-height:1.5;color:#1b1b1b;background:#fafafa}\
main{max-width:40rem;margin:0 auto}\
h1{font-size:1.4rem}\
a.open{display:inline-block;padding:.7rem 1.2rem;background:#0b5cad;color:#fff;border-radius:.3rem;text-decoration:none;font-weight:600}\
iframe{width:100%;min-height:70vh;border:1px solid #ccc;margin-top:1rem;background:#fff}\
p.small{font-size:.9rem;color:#555}\
p.test{padding:.6rem .8rem;background:#fff4d6;border:1px solid #d9a400;border-radius:.3rem;font-weight:600}\
p.alert{padding:.6rem .8rem;background:#fde8e8;border:1px solid #c0392b;border-radius:.3rem;font-weight:600}\
input{font:inherit;padding:.5rem;border:1px solid #888;border-radius:.3rem;margin:.3rem 0;width:100%;box-sizing:border-box}\
button{font:inherit;padding:.6rem 1.1rem;background:#0b5cad;color:#fff;border:0;border-radius:.3rem;font-weight:600}";

static STYLE_HASH: LazyLock<String> = LazyLock::new(|| {
    let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
});

/// The policy of every gateway page: nothing loads but the inline stylesheet (and, on a
/// landing page of type `url`, frames from the producer's origin); the gateway itself may not
/// be framed.
pub fn csp(frame_origin: Option<&str>) -> String {
    format!(
        "default-src 'none'; style-src {}; frame-src {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        *STYLE_HASH,
        frame_origin.unwrap_or("'none'")
    )
}

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Sealpost" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// The default landing page (spec: "a simple default page including (an anchor for) the
/// handle URL"), or with `frame` the producer's page below the link. A `test` document's page
/// says so, above everything else (DESIGN: test data works like live data, but never passes
/// for it).
pub fn landing(handle_url: &str, ttl_minutes: u64, frame: Option<&str>, test: bool) -> Markup {
    layout(
        if test {
            "Test document"
        } else {
            "Your document"
        },
        html! {
            @if test {
                p.test role="note" {
                    "Test document: this is test data from the sender's test environment, not a real document."
                }
            }
            h1 { "Your document is ready" }
            p { a.open href=(handle_url) rel="noreferrer" { "Open the document" } }
            p.small {
                "This link works for " (ttl_minutes) " minutes. After that, open the link from your message again."
            }
            @if let Some(frame) = frame {
                iframe src=(frame) title="Information from the sender" referrerpolicy="no-referrer"
                    sandbox="allow-scripts allow-same-origin allow-popups allow-forms" {}
            }
        },
    )
}

/// A page explaining a refusal.
pub fn problem(status: StatusCode) -> Markup {
    let (title, text): (&str, &str) = match status.as_u16() {
        400 => (
            "Bad request",
            "The request could not be understood. Open the link from your message again.",
        ),
        401 => (
            "Sign-in needed",
            "This document asks you to sign in. Open the link from your message again and enter the credentials you were given.",
        ),
        403 => (
            "Not for this viewer",
            "This link does not name anyone allowed to see this document. Check that you opened the whole link from your message.",
        ),
        404 => (
            "Link not valid",
            "This link is not valid. It may be incomplete, it may have expired, or the document may have been replaced or withdrawn. Ask the sender for a new link.",
        ),
        410 => (
            "Link expired",
            "This link has expired. Open the link from your message again, or ask the sender for a new one.",
        ),
        429 => (
            "Too many attempts",
            "There were too many failed attempts to sign in for this document. Wait before trying again; the sender can also unlock it.",
        ),
        502 => (
            "Sign-in service unavailable",
            "The service you sign in with did not answer in time. Please try again in a few minutes.",
        ),
        503 => (
            "Temporarily unavailable",
            "The gateway cannot serve this request right now. Please try again in a few minutes.",
        ),
        _ => (
            "Something went wrong",
            "The request could not be completed. Please try again later.",
        ),
    };
    layout(
        title,
        html! {
            h1 { (title) }
            p { (text) }
            p.small { "Status " (status.as_u16()) }
        },
    )
}

/// The page of an OAuth sign-in that ended without access.
pub fn sign_in_problem(failure: crate::error::SignInFailure) -> Markup {
    use crate::error::SignInFailure;
    let (title, text) = match failure {
        SignInFailure::Expired => (
            "Sign-in expired",
            "This sign-in has expired, was already used, or was started in another browser. Open the link from your message again.",
        ),
        SignInFailure::Denied => (
            "Access not granted",
            "You did not allow the sign-in, so the document cannot be shown. Open the link from your message again if you change your mind.",
        ),
        SignInFailure::Refused => (
            "Sign-in failed",
            "The sign-in could not be confirmed with the service you signed in with. Open the link from your message again.",
        ),
        SignInFailure::Mismatch => (
            "Not the intended viewer",
            "You signed in as someone other than the person this link was sent to. Sign in with the account the sender knows you by.",
        ),
    };
    layout(title, html! { h1 { (title) } p { (text) } })
}

/// Sets the headers every gateway page carries.
pub fn respond(status: StatusCode, page: Markup, frame_origin: Option<&str>) -> HttpResponse {
    respond_with_policy(status, page, &csp(frame_origin))
}

/// [`respond`] with a policy of the caller's (the top-secret page's, which runs its script).
fn respond_with_policy(status: StatusCode, page: Markup, policy: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if let Ok(value) = HeaderValue::from_str(policy) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, value));
    }
    response.body(page.into_string())
}

/// The start of a 303 to `location` (a handle, a provider, the document request after
/// sign-in): never cached, and no `Referer` to where it leads.
pub fn see_other(location: String) -> HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = landing(
            "https://v/h/x\"><script>",
            5,
            Some("https://p/?a=<b>"),
            false,
        )
        .into_string();
        assert!(!page.contains("<script>"));
        assert!(page.contains("lang=\"en\""));
        assert!(page.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn a_test_document_says_so_and_a_live_one_does_not() {
        let test = landing("https://v/h/x", 5, None, true).into_string();
        assert!(test.contains("Test document: this is test data"), "{test}");
        assert!(test.contains("<title>Test document"), "{test}");
        let live = landing("https://v/h/x", 5, None, false).into_string();
        assert!(!live.contains("Test document"), "{live}");
    }

    #[test]
    fn the_policy_names_the_stylesheet_hash() {
        let policy = csp(None);
        assert!(policy.contains("'sha256-"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("frame-src 'none'"));
    }
}
