//! HTTP Basic challenges over reqwest (Digest runs with curl and python-requests in
//! `clients`, which implement it).

use super::*;
use crate::common::{Db, on_both_databases};

on_both_databases!(
    basic_literal_password_only_ignores_the_user_id,
    basic_literal_user_pass_needs_both,
    basic_field_takes_the_viewers_record,
    digest_challenge_offers_sha256_then_md5,
);

async fn challenge_header(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn basic_literal_password_only_ignores_the_user_id(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"literal",
        &[("challenge", basic(literal("opensesame")))],
    )
    .await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let client = no_redirects();
    let asked = client.get(&url).send().await.unwrap();
    assert_eq!(asked.status(), 401);
    assert_eq!(
        challenge_header(&asked).await,
        ["Basic realm=\"Reports\", charset=\"UTF-8\""]
    );
    let wrong = client
        .get(&url)
        .basic_auth("x", Some("opensesamE"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    for user in ["anyone", "", "harry"] {
        let response = client
            .get(&url)
            .basic_auth(user, Some("opensesame"))
            .send()
            .await
            .unwrap();
        assert_eq!(fetch_handle(response).await, b"literal", "{user}");
    }
}

async fn basic_literal_user_pass_needs_both(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"pair",
        &[("challenge", basic(literal("auditor:Zoë-pass")))],
    )
    .await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let client = no_redirects();
    let wrong_user = client
        .get(&url)
        .basic_auth("other", Some("Zoë-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_user.status(), 401);
    let right = client
        .get(&url)
        .basic_auth("auditor", Some("Zoë-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(right).await, b"pair");
}

async fn basic_field_takes_the_viewers_record(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"per viewer",
        &[
            ("audience", audience()),
            ("challenge", basic(field("code"))),
        ],
    )
    .await;
    let client = no_redirects();
    let jane = format!(
        "{}/{}?telephone=4154445512&first_name=Jane",
        app.gateway, doc.placeholder
    );
    // Harry's code does not open Jane's request.
    let response = client
        .get(&jane)
        .basic_auth("", Some("tiger"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client
        .get(&jane)
        .basic_auth("", Some("lion"))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(response).await, b"per viewer");
    let response = client
        .get(harry(&app, &doc))
        .basic_auth("x", Some("tiger"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

async fn digest_challenge_offers_sha256_then_md5(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"d",
        &[("challenge", digest(literal("ann:pw")))],
    )
    .await;
    let response = no_redirects()
        .get(format!("{}/{}", app.gateway, doc.placeholder))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let offers = challenge_header(&response).await;
    assert_eq!(offers.len(), 2, "{offers:?}");
    assert!(offers[0].starts_with("Digest realm=\"Reports\", qop=\"auth\", algorithm=SHA-256"));
    assert!(offers[1].contains("algorithm=MD5"));
}
