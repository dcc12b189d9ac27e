//! A producer's credentials across API servers: a logout or a key revocation on one refuses
//! the credential on the other at once (both read their row on every request); an allowlist
//! change on one is enforced by the other within its one-second cache.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{OTHER, Second, client_from};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    a_logout_on_one_api_server_refuses_the_token_on_the_other,
    a_key_revoked_on_one_api_server_is_refused_by_the_other,
    an_allowlist_change_on_one_api_server_holds_on_the_other_within_a_second,
);

/// `GET {api}/documents` with `authorization` from `client`: the status.
async fn documents_status(client: &reqwest::Client, api: &str, authorization: &str) -> u16 {
    let response = client
        .get(format!("{api}/documents"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn a_logout_on_one_api_server_refuses_the_token_on_the_other(db: Db) {
    let app = TestApp::spawn(db).await;
    let second = Second::start(&app).await;
    let token = app.login().await;
    let other = app.login().await;
    let bearer = format!("Bearer {token}");
    assert_eq!(
        documents_status(&app.client, &second.api, &bearer).await,
        200
    );
    let response = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        documents_status(&app.client, &second.api, &bearer).await,
        401,
        "the other API server refuses the token at once"
    );
    let other = format!("Bearer {other}");
    assert_eq!(
        documents_status(&app.client, &second.api, &other).await,
        200,
        "only that token"
    );
    second.stop().await;
}

async fn a_key_revoked_on_one_api_server_is_refused_by_the_other(db: Db) {
    let app = TestApp::spawn(db).await;
    let second = Second::start(&app).await;
    let token = app.login().await;
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "ci", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {}", created["bearer"].as_str().unwrap());
    crate::secrets::record("api key", &key);
    crate::secrets::record("api key", created["bearer"].as_str().unwrap());
    // Both forms verified on the second server: its verification cache holds the key.
    let with_key = |api: &str| {
        app.client
            .get(format!("{api}/documents"))
            .header("x-api-key", &key)
            .send()
    };
    assert_eq!(with_key(&second.api).await.unwrap().status(), 200);
    assert_eq!(
        documents_status(&app.client, &second.api, &bearer).await,
        200
    );
    let revoked = app
        .client
        .delete(app.url("/keys/ci"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert_eq!(
        with_key(&second.api).await.unwrap().status(),
        401,
        "revoked on the first server: refused by the second at once"
    );
    assert_eq!(
        documents_status(&app.client, &second.api, &bearer).await,
        401
    );
    assert_eq!(with_key(&app.api).await.unwrap().status(), 401);
    second.stop().await;
}

/// Polls `GET {api}/documents` from `client` until it answers `want` (up to two seconds, well
/// over the one-second cache, without asserting any tighter timing): the time it took.
async fn until_status(client: &reqwest::Client, api: &str, bearer: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        let status = documents_status(client, api, bearer).await;
        if status == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still {status} after two seconds, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_allowlist_change_on_one_api_server_holds_on_the_other_within_a_second(db: Db) {
    let app = TestApp::spawn(db).await;
    let second = Second::start(&app).await;
    let token = app.login().await;
    let bearer = format!("Bearer {token}");
    let other = client_from(OTHER);
    // The second server reads (and caches) the empty list: 127.0.0.2 is let in.
    assert_eq!(documents_status(&other, &second.api, &bearer).await, 200);
    let put = |list: Value| {
        app.client
            .put(app.url("/producer/allowlist"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(list.to_string())
            .send()
    };
    assert_eq!(put(json!(["127.0.0.1"])).await.unwrap().status(), 200);
    until_status(&other, &second.api, &bearer, 403).await;
    assert_eq!(
        documents_status(&app.client, &second.api, &bearer).await,
        200,
        "127.0.0.1 is still allowed"
    );
    // Lifted on the first server: the second lets 127.0.0.2 in again.
    assert_eq!(put(json!([])).await.unwrap().status(), 200);
    until_status(&other, &second.api, &bearer, 200).await;
    second.stop().await;
}
