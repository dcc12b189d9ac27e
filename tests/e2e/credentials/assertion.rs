//! Signed-assertion login (issue 16, item 3): `POST /login` with a part `assertion`, an EdDSA
//! JWT signed by one of the producer's keys, so the private key never travels; and the login's
//! `environment` part (item 7).
//!
//! The assertions are made here by hand (header, claims, Ed25519 signature, base64url), as a
//! client without a JWT library would, so the tests also show the format is the standard one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use shared::keys::SigningKey;

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    an_assertion_logs_in_and_the_key_never_travels,
    bad_assertions_are_one_401,
    a_replayed_assertion_is_refused_by_a_second_process,
    assertion_login_form_errors_name_the_part,
    a_test_login_acts_in_test,
    a_kid_names_the_signing_key,
);

/// An EdDSA JWT of `claims` signed with `key` (PEM), registered with the secret grep.
pub fn sign(key: &str, claims: &Value) -> String {
    sign_with(json!({"alg": "EdDSA", "typ": "JWT"}), key, claims)
}

/// As [`sign`], with the JOSE header `header`.
pub fn sign_with(header: Value, key: &str, claims: &Value) -> String {
    let key = SigningKey::from_pem(key).unwrap();
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()));
    let jwt = format!("{input}.{signature}");
    crate::secrets::record("assertion", &jwt);
    jwt
}

/// Claims an assertion for `producer` to `app` would carry, valid for `ttl` seconds.
pub fn claims(app: &TestApp, producer: &str, ttl: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": producer,
        "aud": format!("{}/login", app.api),
        "iat": now,
        "exp": now + ttl,
        "jti": schema::ObjectKey::random().to_string(),
    })
}

/// A fresh assertion for `producer`, signed with `key`.
pub fn assertion(app: &TestApp, key: &str, producer: &str) -> String {
    sign(key, &claims(app, producer, 120))
}

/// `POST {api}/login` with the parts given.
pub async fn login_form(app: &TestApp, api: &str, parts: &[(&str, &str)]) -> reqwest::Response {
    let form = parts.iter().fold(Form::new(), |form, (name, value)| {
        form.text(name.to_string(), value.to_string())
    });
    app.client
        .post(format!("{api}/login"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// The token of a successful login response (registered with the secret grep).
pub fn token_of(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    crate::secrets::record("login token", &token);
    token
}

async fn an_assertion_logs_in_and_the_key_never_travels(db: Db) {
    let app = TestApp::spawn(db).await;
    let jwt = assertion(&app, &app.default_key(), "default");
    let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    let token = token_of(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["producer"], "default");
    assert_eq!(body["environment"], "live");
    assert_eq!(
        app.get(&token, "/documents").send().await.unwrap().status(),
        200
    );

    // With an email, the audit trail names the operator; without, the key.
    let jwt = assertion(&app, &app.default_key(), "default");
    let response = login_form(
        &app,
        &app.api,
        &[("assertion", &jwt), ("email", "ops@x.example")],
    )
    .await;
    token_of(&response);
    // A second producer's key signs for that producer only.
    let acme = app.add_producer("acme").await;
    let jwt = assertion(&app, &acme, "acme");
    let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    assert_eq!(response.json::<Value>().await.unwrap()["producer"], "acme");
    let jwt = assertion(&app, &acme, "default");
    let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    assert_eq!(response.status(), 401);
}

async fn bad_assertions_are_one_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.default_key();
    let stranger = SigningKey::generate().unwrap().to_pem().to_string();
    let with = |field: &str, value: Value| {
        let mut claims = claims(&app, "default", 120);
        claims[field] = value;
        claims
    };
    let now = chrono::Utc::now().timestamp();
    let mut without_jti = claims(&app, "default", 120);
    without_jti.as_object_mut().unwrap().remove("jti");
    let cases = [
        (
            "wrong aud",
            sign(&key, &with("aud", json!("https://elsewhere.example/login"))),
        ),
        (
            "exp 10 minutes ahead",
            sign(&key, &with("exp", json!(now + 600))),
        ),
        ("expired", sign(&key, &with("exp", json!(now - 5)))),
        ("unknown iss", sign(&key, &with("iss", json!("nobody")))),
        (
            "another key",
            sign(&stranger, &claims(&app, "default", 120)),
        ),
        ("no jti", sign(&key, &without_jti)),
        (
            "iat in the future",
            sign(&key, &with("iat", json!(now + 120))),
        ),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    let mut details = std::collections::HashSet::new();
    for (case, jwt) in cases {
        let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
        assert_eq!(response.status(), 401, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        let problem: Value = response.json().await.unwrap();
        details.insert(problem["detail"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        details.len(),
        1,
        "one refusal says nothing of the reason: {details:?}"
    );

    // A tampered signature.
    let jwt = assertion(&app, &key, "default");
    let (rest, signature) = jwt.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{rest}.{flipped}{}", &signature[1..]);
    let response = login_form(&app, &app.api, &[("assertion", &tampered)]).await;
    assert_eq!(response.status(), 401);
    // "alg": "none" is never accepted.
    let (header_and_payload, _) = jwt.rsplit_once('.').unwrap();
    let payload = header_and_payload.split_once('.').unwrap().1;
    let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    let response = login_form(&app, &app.api, &[("assertion", &none)]).await;
    assert_eq!(response.status(), 401);
}

async fn a_replayed_assertion_is_refused_by_a_second_process(db: Db) {
    // Both processes must expect the same audience: one public URL.
    let app = TestApp::spawn_with(db, &[("api.public_url", "https://sealpost.test")]).await;
    let second = sealpost::instance::Instance::start(&app.settings)
        .await
        .unwrap();
    let second_api = format!("http://{}", second.api_addr);
    let mut claims = claims(&app, "default", 120);
    claims["aud"] = json!("https://sealpost.test/login");
    let jwt = sign(&app.default_key(), &claims);
    let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    token_of(&response);
    let again = login_form(&app, &second_api, &[("assertion", &jwt)]).await;
    assert_eq!(again.status(), 401, "the second process refuses the replay");
    let again = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    assert_eq!(again.status(), 401, "and so does the first");
    // A fresh assertion works on the second process.
    claims["jti"] = json!(schema::ObjectKey::random().to_string());
    let jwt = sign(&app.default_key(), &claims);
    token_of(&login_form(&app, &second_api, &[("assertion", &jwt)]).await);
    second.stop().await;
}

/// A login form's parts, as sent.
type Parts<'a> = &'a [(&'a str, &'a str)];

async fn assertion_login_form_errors_name_the_part(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.default_key();
    let jwt = assertion(&app, &key, "default");
    let cases: [(Parts, u16, &str); 5] = [
        (&[("key", &key), ("assertion", &jwt)], 400, "assertion"),
        (&[("email", "ops@x.example")], 400, "key"),
        (
            &[("assertion", &jwt), ("environment", "staging")],
            422,
            "environment",
        ),
        (&[("assertion", &jwt), ("email", "nope")], 422, "email"),
        (&[("assertion", &jwt), ("scope", "admin")], 400, "scope"),
    ];
    for (parts, status, field) in cases {
        let response = login_form(&app, &app.api, parts).await;
        assert_eq!(response.status(), status, "{field}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field);
    }
    // None of these spent the assertion.
    token_of(&login_form(&app, &app.api, &[("assertion", &jwt)]).await);
}

async fn a_test_login_acts_in_test(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.default_key();
    let parts = [
        ("key", key.as_str()),
        ("email", "ops@x.example"),
        ("environment", "test"),
    ];
    let response = login_form(&app, &app.api, &parts).await;
    token_of(&response);
    assert_eq!(
        response.json::<Value>().await.unwrap()["environment"],
        "test"
    );
    let jwt = assertion(&app, &key, "default");
    let response = login_form(
        &app,
        &app.api,
        &[("assertion", &jwt), ("environment", "test")],
    )
    .await;
    token_of(&response);
    assert_eq!(
        response.json::<Value>().await.unwrap()["environment"],
        "test"
    );
    let parts = [
        ("key", key.as_str()),
        ("email", "ops@x.example"),
        ("environment", "live"),
    ];
    let response = login_form(&app, &app.api, &parts).await;
    token_of(&response);
    assert_eq!(
        response.json::<Value>().await.unwrap()["environment"],
        "live"
    );
}

async fn a_kid_names_the_signing_key(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = app.default_key();
    let token = app.login().await;
    let keys = app.get_json(&token, "/producer/keys").await;
    let key_id = keys["keys"][0]["keyId"].as_str().unwrap().to_owned();
    let header = |kid: &str| json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let jwt = sign_with(header(&key_id), &key, &claims(&app, "default", 120));
    token_of(&login_form(&app, &app.api, &[("assertion", &jwt)]).await);
    // A kid naming no key of the producer: refused, though the signature is good.
    let jwt = sign_with(
        header("0000000000000000"),
        &key,
        &claims(&app, "default", 120),
    );
    let response = login_form(&app, &app.api, &[("assertion", &jwt)]).await;
    assert_eq!(response.status(), 401);
}
