//! Landing pages: the default page, the producer's framed page, and the page headers.

use super::*;
use crate::common::{Db, on_both_databases};

on_both_databases!(
    default_landing_page_links_the_handle,
    url_landing_page_frames_the_producers_page
);

async fn page(app: &TestApp, url: &str) -> (reqwest::header::HeaderMap, String) {
    let response = no_redirects()
        .get(url)
        .header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = app;
    (response.headers().clone(), response.text().await.unwrap())
}

fn handle_link(body: &str) -> String {
    let start = body.find("href=\"").unwrap() + 6;
    let end = start + body[start..].find('"').unwrap();
    body[start..end].replace("&amp;", "&")
}

async fn default_landing_page_links_the_handle(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(&app, &token, b"landing", &[("audience", audience())]).await;
    let (headers, body) = page(&app, &harry(&app, &doc)).await;
    assert!(body.contains("<html lang=\"en\">"), "{body}");
    assert!(!body.contains("<script"));
    assert!(!body.contains("<iframe"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let link = handle_link(&body);
    assert!(link.starts_with(&format!("{}/h/", app.vault)), "{link}");
    // Viewing the page twice consumes nothing: both handles work.
    let (_, again) = page(&app, &harry(&app, &doc)).await;
    for link in [link, handle_link(&again)] {
        assert_eq!(
            reqwest::get(&link)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .as_ref(),
            b"landing"
        );
    }
}

async fn url_landing_page_frames_the_producers_page(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let landing = serde_json::json!({"type": "url", "href": "https://info.example.org/welcome{?first_name,city}"});
    let doc = create(
        &app,
        &token,
        b"framed",
        &[("audience", audience()), ("landingpage", landing)],
    )
    .await;
    let (headers, body) = page(&app, &harry(&app, &doc)).await;
    assert!(
        body.contains(
            "src=\"https://info.example.org/welcome?first_name=Harry&amp;city=Zo%C3%AB%20Town\""
        ),
        "{body}"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-src https://info.example.org;"), "{csp}");
    // The handle link stands above the frame.
    assert!(body.find("/h/").unwrap() < body.find("<iframe").unwrap());
}
