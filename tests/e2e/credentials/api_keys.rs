//! API keys (issue 16, item 1): `POST /keys`, `GET /keys`, `DELETE /keys/{name}`, the two ways
//! a key is presented, every refusal, and revocation across processes.

use api_server::auth::api_key::secret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use reqwest::{RequestBuilder, Response};
use schema::Environment;
use serde_json::{Value, json};

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    keys_are_created_listed_and_revoked,
    both_header_forms_are_accepted,
    malformed_unknown_wrong_revoked_and_expired_keys_are_401,
    names_are_unique_among_unrevoked_keys,
    requests_are_validated_naming_the_field,
    a_key_never_grants_more_than_its_creator,
    no_key_is_kept_in_clear,
    a_second_process_refuses_a_revoked_key_at_once,
);

/// A key as `POST /keys` answered it.
pub(super) struct Key {
    pub key: String,
    pub bearer: String,
    pub body: Value,
}

/// `POST /keys` with `body`, as the credential `auth` (`Authorization` value).
pub(super) async fn post_key(app: &TestApp, auth: &str, body: &Value) -> Response {
    app.client
        .post(app.url("/keys"))
        .header("authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Creates a key (asserting 201) and records it and its bearer form for the secret grep.
pub(super) async fn create(app: &TestApp, auth: &str, body: Value) -> Key {
    let response = post_key(app, auth, &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let key = body["key"].as_str().unwrap().to_owned();
    let bearer = body["bearer"].as_str().unwrap().to_owned();
    crate::secrets::record("api key", &key);
    crate::secrets::record("api key", &bearer);
    Key { key, bearer, body }
}

/// A key called `name` holding `scopes`, created with the login token `token`.
pub(super) async fn key_with(app: &TestApp, token: &str, name: &str, scopes: &[&str]) -> Key {
    create(
        app,
        &format!("Bearer {token}"),
        json!({"name": name, "scopes": scopes}),
    )
    .await
}

/// `request` presenting `key` in `x-api-key`.
pub(super) fn with_key(request: RequestBuilder, key: &str) -> RequestBuilder {
    request.header("x-api-key", key)
}

async fn status_with(app: &TestApp, key: &str) -> u16 {
    let response = with_key(app.client.get(app.url("/documents")), key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert!(response.headers().contains_key("www-authenticate"));
        let text = response.text().await.unwrap();
        assert!(!text.contains(key), "a refusal never echoes the key");
    }
    status
}

/// The key with its last six characters recomputed: well formed, whatever was changed.
fn with_checksum(key_without_sum: &str) -> String {
    format!("{key_without_sum}{}", secret::checksum(key_without_sum))
}

async fn keys_are_created_listed_and_revoked(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = format!("Bearer {}", app.login().await);
    let expires = (Utc::now() + Duration::days(30)).to_rfc3339();
    let created = create(
        &app,
        &auth,
        json!({"name": "ci", "scopes": ["read", "write"], "environment": "live",
               "expires": expires, "encryption": false,
               "rateLimit": {"perSecond": 50, "burst": 100}}),
    )
    .await;
    let parsed = secret::parse(&created.key).expect("a well-formed key");
    assert_eq!(parsed.environment, Environment::Live);
    assert_eq!(parsed.id, created.body["id"]);
    assert_eq!(
        STANDARD.decode(&created.bearer).unwrap(),
        format!("ci:{}", created.key).into_bytes()
    );
    assert_eq!(created.body["scopes"], json!(["read", "write"]));
    assert_eq!(
        created.body["rateLimit"],
        json!({"perSecond": 50, "burst": 100})
    );
    assert_eq!(created.body["lastUsed"], Value::Null);
    assert_eq!(created.body["revoked"], Value::Null);

    assert_eq!(status_with(&app, &created.key).await, 200);
    let listed = app
        .client
        .get(app.url("/keys"))
        .header("authorization", &auth);
    let text = listed.send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(&created.key) && !text.contains(&created.bearer));
    assert!(!text.contains("argon2"), "no hash either");
    let keys: Value = serde_json::from_str(&text).unwrap();
    let key = &keys["keys"][0];
    assert_eq!(key["name"], "ci");
    assert!(key.get("key").is_none() && key.get("bearer").is_none());
    assert!(key["lastUsed"].is_string(), "{key}");
    assert_eq!(key["expires"], created.body["expires"]);
    // The API log's operator column names the key.
    let lines = select_strings(&app, "SELECT fields FROM api_log").await;
    assert!(
        lines.iter().any(|line| line.ends_with("\tkey:ci")),
        "{lines:#?}"
    );

    let revoke = app
        .client
        .delete(app.url("/keys/ci"))
        .header("authorization", &auth);
    assert_eq!(revoke.send().await.unwrap().status(), 204);
    assert_eq!(status_with(&app, &created.key).await, 401);
    let keys: Value = app
        .client
        .get(app.url("/keys"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(keys["keys"][0]["revoked"].is_string());
    let again = app
        .client
        .delete(app.url("/keys/ci"))
        .header("authorization", &auth);
    assert_eq!(again.send().await.unwrap().status(), 404);
}

async fn both_header_forms_are_accepted(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let key = key_with(&app, &token, "both", &["read"]).await;
    assert_eq!(status_with(&app, &key.key).await, 200);
    let bearer = |value: &str| {
        app.client
            .get(app.url("/documents"))
            .header("authorization", format!("Bearer {value}"))
    };
    assert_eq!(bearer(&key.bearer).send().await.unwrap().status(), 200);
    // The name must be the key's.
    let other = STANDARD.encode(format!("other:{}", key.key));
    crate::secrets::record("api key", &other);
    let response = bearer(&other).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
}

async fn malformed_unknown_wrong_revoked_and_expired_keys_are_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let key = key_with(&app, &token, "refused", &["read"]).await.key;
    assert_eq!(status_with(&app, &key).await, 200);
    let body = &key[..key.len() - 6];
    let last = if key.ends_with('a') { "b" } else { "a" };
    let wrong_sum = format!("{}{last}", &key[..key.len() - 1]);
    // A changed secret character, checksum recomputed: well formed, and wrong.
    let flipped = if body.ends_with('a') { 'b' } else { 'a' };
    let wrong_secret = with_checksum(&format!("{}{flipped}", &body[..body.len() - 1]));
    let other_environment = with_checksum(&body.replacen("sp_live_", "sp_test_", 1));
    let unknown = secret::generate(Environment::Live).unwrap().key.to_string();
    for (what, presented) in [
        ("wrong checksum", &wrong_sum),
        ("wrong secret", &wrong_secret),
        ("other environment", &other_environment),
        ("unknown id", &unknown),
    ] {
        crate::secrets::record("api key", presented);
        assert_eq!(status_with(&app, presented).await, 401, "{what}");
    }
    assert_eq!(status_with(&app, "sp_live_short").await, 401);
    // The right key still works after the wrong ones (the cache keeps what verified).
    assert_eq!(status_with(&app, &key).await, 200);

    // Expired in the database while cached: refused on the next request.
    let expiring = key_with(&app, &token, "expiring", &["read"]).await;
    assert_eq!(status_with(&app, &expiring.key).await, 200);
    let id = expiring.body["id"].as_str().unwrap();
    let past = (Utc::now() - Duration::seconds(1)).timestamp_millis();
    execute(
        &app,
        &format!("UPDATE api_keys SET expires_at = {past} WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(status_with(&app, &expiring.key).await, 401);

    let revoke = app.delete(&token, "/keys/refused");
    assert_eq!(revoke.send().await.unwrap().status(), 204);
    assert_eq!(status_with(&app, &key).await, 401);
}

async fn names_are_unique_among_unrevoked_keys(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let auth = format!("Bearer {token}");
    key_with(&app, &token, "ci", &["read"]).await;
    let response = post_key(&app, &auth, &json!({"name": "ci", "scopes": ["write"]})).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        app.delete(&token, "/keys/ci")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    key_with(&app, &token, "ci", &["write"]).await;
    let keys = app.get_json(&token, "/keys").await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
}

async fn requests_are_validated_naming_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let auth = format!("Bearer {}", app.login().await);
    let past = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let cases = [
        (json!({"scopes": ["read"]}), 422, "name"),
        (json!({"name": "a:b", "scopes": ["read"]}), 422, "name"),
        (
            json!({"name": "x".repeat(65), "scopes": ["read"]}),
            422,
            "name",
        ),
        (json!({"name": "k"}), 422, "scopes"),
        (json!({"name": "k", "scopes": []}), 422, "scopes"),
        (
            json!({"name": "k", "scopes": ["read", "root"]}),
            422,
            "scopes[1]",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "environment": "prod"}),
            422,
            "environment",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "expires": "tomorrow"}),
            422,
            "expires",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "expires": past}),
            422,
            "expires",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "encryption": "yes"}),
            422,
            "encryption",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "rateLimit": 5}),
            422,
            "rateLimit",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "rateLimit": {"perSecond": 1, "burst": 0}}),
            422,
            "rateLimit.burst",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "owner": "x"}),
            400,
            "owner",
        ),
    ];
    for (body, status, field) in cases {
        let response = post_key(&app, &auth, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    let not_json = app
        .client
        .post(app.url("/keys"))
        .header("authorization", &auth)
        .body("name=k")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 415);
    let keys = app
        .client
        .get(app.url("/keys"))
        .header("authorization", &auth);
    let keys: Value = keys.send().await.unwrap().json().await.unwrap();
    assert_eq!(keys["keys"], json!([]), "nothing was created");
}

async fn a_key_never_grants_more_than_its_creator(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let admin = create(
        &app,
        &format!("Bearer {token}"),
        json!({"name": "admin", "scopes": ["admin", "read"], "environment": "test",
               "expires": (Utc::now() + Duration::days(1)).to_rfc3339()}),
    )
    .await;
    let auth = format!("Bearer {}", admin.bearer);
    let more = post_key(
        &app,
        &auth,
        &json!({"name": "w", "scopes": ["read", "write"]}),
    )
    .await;
    assert_eq!(more.status(), 403);
    let problem: Value = more.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("`write`"),
        "{problem}"
    );
    let live = json!({"name": "l", "scopes": ["read"], "environment": "live"});
    assert_eq!(post_key(&app, &auth, &live).await.status(), 403);
    let later = (Utc::now() + Duration::days(2)).to_rfc3339();
    let outliving = json!({"name": "o", "scopes": ["read"], "expires": later});
    assert_eq!(post_key(&app, &auth, &outliving).await.status(), 403);
    // Within its own grant: its environment and its expiry by default.
    let child = create(&app, &auth, json!({"name": "child", "scopes": ["read"]})).await;
    assert_eq!(child.body["environment"], "test");
    assert_eq!(child.body["expires"], admin.body["expires"]);
    assert!(child.key.starts_with("sp_test_"));
}

async fn no_key_is_kept_in_clear(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let key = key_with(&app, &token, "clear", &["read"]).await;
    assert_eq!(status_with(&app, &key.key).await, 200);
    let secret_part = key.key.rsplit('_').next().unwrap().to_owned();
    let rows = select_strings(
        &app,
        "SELECT name || ' ' || scopes || ' ' || secret_hash FROM api_keys",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].contains("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        rows[0]
    );
    assert!(!rows[0].contains(&secret_part));
    if db == Db::Sqlite {
        for file in crate::common::files_under(&app.data_dir()) {
            let bytes = std::fs::read(&file).unwrap();
            let found = bytes
                .windows(secret_part.len())
                .any(|w| w == secret_part.as_bytes());
            assert!(!found, "{} holds the key", file.display());
        }
    }
}

async fn a_second_process_refuses_a_revoked_key_at_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let key = key_with(&app, &token, "shared", &["read"]).await;
    let second = sealpost::instance::Instance::start(&app.settings)
        .await
        .unwrap();
    let second_url = format!("http://{}/documents", second.api_addr);
    let on_second = || with_key(app.client.get(&second_url), &key.key);
    // The second process verifies (and caches) the key ...
    assert_eq!(on_second().send().await.unwrap().status(), 200);
    assert_eq!(on_second().send().await.unwrap().status(), 200);
    // ... the first revokes it, and the second's very next request is refused.
    assert_eq!(
        app.delete(&token, "/keys/shared")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(on_second().send().await.unwrap().status(), 401);
    second.stop().await;
}

/// Runs `statement` on the instance's database.
async fn execute(app: &TestApp, statement: &str) {
    let url = app.settings.database_url();
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// The one text column of `query`'s rows, straight from the table.
async fn select_strings(app: &TestApp, query: &'static str) -> Vec<String> {
    let url = app.settings.database_url();
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
    }
}
