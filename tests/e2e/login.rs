//! `POST /login`, `POST /logout` and how tokens are accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    login_answers_token_in_authorization_header,
    token_accepted_as_basic_and_bearer,
    missing_or_foreign_credentials_are_401_with_challenge,
    bad_or_unknown_key_is_401,
    login_form_errors_name_the_field,
    logout_revokes_at_once,
    tokens_expire,
    a_new_producer_key_logs_in,
);

async fn login_answers_token_in_authorization_header(db: Db) {
    let app = TestApp::spawn(db).await;
    let response = app
        .login_response(&app.default_key(), "operator@example.com")
        .await;
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["producer"], "default");
    assert!(body["msg"].as_str().unwrap().contains("Authorization"));
    chrono::DateTime::parse_from_rfc3339(body["expires"].as_str().unwrap()).unwrap();
}

async fn token_accepted_as_basic_and_bearer(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let basic = format!("Basic {}", STANDARD.encode(&token));
    let response = app
        .client
        .get(app.url("/documents"))
        .header("authorization", basic)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .get(app.url("/documents"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn missing_or_foreign_credentials_are_401_with_challenge(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let cases = [
        None,
        Some(format!("Digest {token}")),
        Some("Basic !!!notbase64".to_owned()),
        Some(format!("Basic {}", STANDARD.encode("garbage"))),
        Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x".to_owned()),
        Some(format!("Bearer {}x", &token)),
        Some("Bearer".to_owned()),
    ];
    for case in cases {
        let mut request = app.client.get(app.url("/documents"));
        if let Some(value) = &case {
            request = request.header("authorization", value.as_str());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{case:?}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains("Basic") && challenge.contains("Bearer"),
            "{challenge}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

async fn bad_or_unknown_key_is_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let unknown = shared::keys::SigningKey::generate()
        .unwrap()
        .to_pem()
        .to_string();
    for key in [
        "not a pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        unknown.as_str(),
    ] {
        let response = app.login_response(key, "operator@example.com").await;
        assert_eq!(response.status(), 401, "{key}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
}

async fn login_form_errors_name_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.default_key();
    let only_key = reqwest::multipart::Form::new().text("key", key.clone());
    let response = app
        .client
        .post(app.url("/login"))
        .multipart(only_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "email");

    let response = app.login_response(&key, "not an email").await;
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "email");

    let response = app
        .client
        .post(app.url("/login"))
        .body("key=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

async fn logout_revokes_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let other = app.login().await;
    let response = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        401
    );
    let response = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        app.get(&other, "/documents").send().await.unwrap().status(),
        200,
        "only that token"
    );
}

async fn tokens_expire(db: Db) {
    // Expiry is in whole seconds from the login: a 1-second token can be valid for only a few
    // milliseconds, less than a busy machine takes for the next request. 3 seconds cannot.
    let app = TestApp::spawn_with(db, &[("api.token_ttl_secs", "3")]).await;
    let token = app.login().await;
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(4100)).await;
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        401
    );
}

async fn a_new_producer_key_logs_in(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.add_producer("acme").await;
    let response = app.login_response(&key, "ops@acme.example").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["producer"], "acme");
}
