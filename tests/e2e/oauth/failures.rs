//! Every failure path of the dance, each a clear page and a log record, never a 5xx from the
//! gateway itself (502 only when the provider fails): driven by reqwest against the
//! misbehaving provider, with a minimal cookie jar standing in for the browser.

use reqwest::Response;
use serde_json::json;

use super::*;
use crate::common::{Db, on_both_databases};
use crate::gateway::{gateway_lines, literal, no_redirects};

on_both_databases!(
    a_good_provider_gives_a_session_then_handles_without_a_dance,
    bad_id_tokens_are_refused,
    provider_failures_are_502,
    denied_consent_is_403,
    state_must_be_this_browsers_live_unused_one,
    identity_match_accepts_the_viewer_and_refuses_another,
);

/// Just enough of a browser: follows nothing by itself, keeps the gateway's cookies.
struct Browser {
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new() -> Self {
        Self {
            client: no_redirects(),
            cookies: Vec::new(),
        }
    }

    async fn get(&mut self, url: &str) -> Response {
        let mut request = self.client.get(url).header("accept", "text/html");
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            request = request.header("cookie", header.join("; "));
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        response
    }

    /// Document request → provider → callback; returns the callback's response.
    async fn dance(&mut self, url: &str) -> (String, Response) {
        let start = self.get(url).await;
        assert_eq!(start.status(), 303, "{}", start.text().await.unwrap());
        let to_provider = location(&start);
        let back = self.get(&to_provider).await;
        assert_eq!(back.status().as_u16(), 302);
        let callback = location(&back);
        let answer = self.get(&callback).await;
        (callback, answer)
    }
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn setup(db: Db, extra: &[(&str, &str)], login: &str) -> (TestApp, String, Peer) {
    let rogue = Peer::rogue(login);
    let app = TestApp::spawn_with(db, extra).await;
    let token = app.login().await;
    (app, token, rogue)
}

fn ann(app: &TestApp, doc: &Doc) -> String {
    format!("{}/{}?viewer=ann", app.gateway, doc.placeholder)
}

async fn title(response: Response) -> String {
    let body = response.text().await.unwrap();
    let start = body.find("<h1>").unwrap() + 4;
    body[start..start + body[start..].find("</h1>").unwrap()].to_owned()
}

async fn a_good_provider_gives_a_session_then_handles_without_a_dance(db: Db) {
    let (app, token, rogue) = setup(db, &[], "ann@example.com").await;
    let doc = oauth_doc(
        &app,
        &token,
        b"rogue ok",
        oauth(&rogue.issuer, literal("c"), literal("s")),
    )
    .await;
    let mut browser = Browser::new();
    let (_, answer) = browser.dance(&ann(&app, &doc)).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        location(&answer),
        format!("/{}?viewer=ann", doc.placeholder)
    );
    let landing = browser.get(&ann(&app, &doc)).await;
    assert_eq!(landing.status(), 200, "the session cookie spares the dance");
    // The session is for this viewer and document only.
    let bob = browser
        .get(&format!("{}/{}?viewer=bob", app.gateway, doc.placeholder))
        .await;
    assert_eq!(bob.status(), 303);
    assert!(
        location(&bob).starts_with(&rogue.issuer),
        "bob must sign in himself"
    );
    // Nothing secret in the gateway log.
    for line in gateway_lines(&app).await {
        assert!(
            !line.contains("code=") && !line.contains("state=") && !line.contains("viewer=ann"),
            "{line}"
        );
    }
}

async fn bad_id_tokens_are_refused(db: Db) {
    let (app, token, rogue) = setup(db, &[], "ann@example.com").await;
    let doc = oauth_doc(
        &app,
        &token,
        b"x",
        oauth(&rogue.issuer, literal("c"), literal("s")),
    )
    .await;
    for mode in [
        "wrong_aud",
        "wrong_iss",
        "wrong_nonce",
        "expired",
        "bad_signature",
    ] {
        rogue.set_mode(mode).await;
        let (_, answer) = Browser::new().dance(&ann(&app, &doc)).await;
        assert_eq!(answer.status(), 403, "{mode}");
        assert_eq!(title(answer).await, "Sign-in failed", "{mode}");
    }
    // An answer claiming another issuer (RFC 9207) is refused before any exchange.
    rogue.set_mode("ok").await;
    let mut browser = Browser::new();
    let start = browser.get(&ann(&app, &doc)).await;
    let back = browser.get(&location(&start)).await;
    let forged = location(&back).replace("iss=", "iss=https%3A%2F%2Fevil.example&x=");
    let answer = browser.get(&forged).await;
    assert_eq!(answer.status(), 403);
}

async fn provider_failures_are_502(db: Db) {
    let (app, token, rogue) = setup(
        db,
        &[("gateway.oauth_timeout_secs", "1")],
        "ann@example.com",
    )
    .await;
    let doc = oauth_doc(
        &app,
        &token,
        b"x",
        oauth(&rogue.issuer, literal("c"), literal("s")),
    )
    .await;
    for mode in ["error500", "slow"] {
        rogue.set_mode(mode).await;
        let (_, answer) = Browser::new().dance(&ann(&app, &doc)).await;
        assert_eq!(answer.status(), 502, "{mode}");
        assert_eq!(title(answer).await, "Sign-in service unavailable");
    }
    // A provider that is down: 502 before the viewer leaves the gateway.
    let down = oauth_doc(
        &app,
        &token,
        b"x",
        oauth("http://127.0.0.1:9", literal("c"), literal("s")),
    )
    .await;
    let response = Browser::new().get(&ann(&app, &down)).await;
    assert_eq!(response.status(), 502);
    let statuses: Vec<String> = gateway_lines(&app)
        .await
        .iter()
        .map(|l| l.split('\t').nth(6).unwrap().to_owned())
        .collect();
    assert!(
        statuses.iter().filter(|s| *s == "502").count() >= 3,
        "{statuses:?}"
    );
}

async fn denied_consent_is_403(db: Db) {
    let (app, token, rogue) = setup(db, &[], "ann@example.com").await;
    let doc = oauth_doc(
        &app,
        &token,
        b"x",
        oauth(&rogue.issuer, literal("c"), literal("s")),
    )
    .await;
    rogue.set_mode("deny").await;
    let (_, answer) = Browser::new().dance(&ann(&app, &doc)).await;
    assert_eq!(answer.status(), 403);
    assert_eq!(title(answer).await, "Access not granted");
}

async fn state_must_be_this_browsers_live_unused_one(db: Db) {
    let (app, token, rogue) =
        setup(db, &[("gateway.oauth_state_secs", "2")], "ann@example.com").await;
    let doc = oauth_doc(
        &app,
        &token,
        b"x",
        oauth(&rogue.issuer, literal("c"), literal("s")),
    )
    .await;
    // Replayed callback (same state, same code): the state was used.
    let mut browser = Browser::new();
    let (callback, answer) = browser.dance(&ann(&app, &doc)).await;
    assert_eq!(answer.status(), 303);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(title(replay).await, "Sign-in expired");
    // Another browser (no state cookie) cannot finish someone else's sign-in.
    let mut victim = Browser::new();
    let start = victim.get(&ann(&app, &doc)).await;
    let back = victim.get(&location(&start)).await;
    let stolen = location(&back);
    assert_eq!(Browser::new().get(&stolen).await.status(), 400);
    // Missing or tampered state.
    let no_state = format!("{}/oauth/callback?code=abc", app.gateway);
    assert_eq!(victim.get(&no_state).await.status(), 400);
    let tampered = stolen.replace("state=", "state=x");
    assert_eq!(victim.get(&tampered).await.status(), 400);
    // The victim's own callback still works: nothing above consumed it.
    assert_eq!(victim.get(&stolen).await.status(), 303);
    // An expired state.
    let mut late = Browser::new();
    let start = late.get(&ann(&app, &doc)).await;
    let back = late.get(&location(&start)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(late.get(&location(&back)).await.status(), 400);
}

async fn identity_match_accepts_the_viewer_and_refuses_another(db: Db) {
    let (app, token, rogue) = setup(db, &[], "ann@example.com").await;
    let mut challenge = oauth(&rogue.issuer, literal("c"), literal("s"));
    challenge["data"]["match"] = json!({"claim": "email", "field": "email_address"});
    let doc = oauth_doc(&app, &token, b"matched", challenge).await;
    let (_, answer) = Browser::new().dance(&ann(&app, &doc)).await;
    assert_eq!(answer.status(), 303, "ann signed in as ann");
    // Ann's identity presented on Bob's link (a forwarded link): refused.
    let bob = format!("{}/{}?viewer=bob", app.gateway, doc.placeholder);
    let (_, answer) = Browser::new().dance(&bob).await;
    assert_eq!(answer.status(), 403);
    assert_eq!(title(answer).await, "Not the intended viewer");
}
