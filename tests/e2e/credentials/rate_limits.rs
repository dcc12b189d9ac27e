//! Rate limits per credential (issue 16, item 6): a token bucket per credential, 429 with
//! `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` headers, audited.
//!
//! Nothing here depends on timing: a burst asserts "at least one 429 among the requests sent
//! at once", and waiting `Retry-After` can only leave more in the bucket.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use futures_util::future::join_all;

use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    a_burst_over_the_limit_is_refused_until_retry_after,
    each_credential_has_its_own_bucket,
    a_refusal_is_audited_like_any_answer,
    an_api_keys_own_rate_limit_applies,
);

/// 2 requests a second, bursts of 5: the settings of every test here.
const SETTINGS: [(&str, &str); 2] = [("api.rate_per_sec", "2"), ("api.rate_burst", "5")];
/// `RateLimit-Policy` for [`SETTINGS`]: a quota of 5, refilled from empty in 3 s (2.5 rounded
/// up).
const POLICY: &str = r#""burst";q=5;w=3"#;
/// Requests sent at once to empty a bucket of 5.
const BURST: usize = 20;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {response:?}"))
        .to_str()
        .unwrap()
}

/// `GET /documents` as `token`, [`BURST`] times at once; the answers in no particular order.
async fn burst(app: &TestApp, token: &str) -> Vec<reqwest::Response> {
    burst_of(|| app.get(token, "/documents")).await
}

/// `request()` sent [`BURST`] times at once; the answers in no particular order.
async fn burst_of(request: impl Fn() -> reqwest::RequestBuilder) -> Vec<reqwest::Response> {
    let requests = (0..BURST).map(|_| request().send());
    join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// Checks a 429's headers (for [`POLICY`]) and body; returns its `Retry-After`.
async fn refusal(response: reqwest::Response) -> u64 {
    refusal_under(response, POLICY).await
}

/// Checks a 429's headers, `policy` its `RateLimit-Policy`, and body; returns its
/// `Retry-After`.
async fn refusal_under(response: reqwest::Response, policy: &str) -> u64 {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = header(&response, "retry-after").parse().unwrap();
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_eq!(header(&response, "ratelimit-policy"), policy);
    assert_eq!(
        header(&response, "ratelimit"),
        format!(r#""burst";r=0;t={retry_after}"#),
        "the reset names the Retry-After moment"
    );
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert!(problem["detail"].as_str().unwrap().contains("retry after"));
    retry_after
}

/// `r` of an admitted answer's `RateLimit`, after checking both fields' shape.
fn remaining(response: &reqwest::Response) -> u32 {
    remaining_under(response, POLICY)
}

/// `r` of an admitted answer's `RateLimit`, `policy` its `RateLimit-Policy`.
fn remaining_under(response: &reqwest::Response, policy: &str) -> u32 {
    assert_eq!(header(response, "ratelimit-policy"), policy);
    let state = header(response, "ratelimit");
    let params = state
        .strip_prefix(r#""burst";r="#)
        .unwrap_or_else(|| panic!("{state}"));
    let (remaining, reset) = params.split_once(";t=").unwrap();
    let reset: u64 = reset.parse().unwrap();
    assert!(reset <= 3, "{state}");
    remaining.parse().unwrap()
}

async fn a_burst_over_the_limit_is_refused_until_retry_after(db: Db) {
    let app = TestApp::spawn_with(db, &SETTINGS).await;
    let token = app.login().await;
    let first = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(remaining(&first) < 5, "the first request took one");

    let answers = burst(&app, &token).await;
    let (admitted, refused): (Vec<_>, Vec<_>) =
        answers.into_iter().partition(|r| r.status() == 200);
    assert!(
        !refused.is_empty(),
        "{BURST} requests at once over a burst of 5"
    );
    for response in &admitted {
        remaining(response);
    }
    let mut wait = 0;
    for response in refused {
        wait = wait.max(refusal(response).await);
    }

    // Refused requests take nothing from the bucket: after Retry-After, one is back.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let resumed = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(resumed.status(), 200);
    remaining(&resumed);
}

async fn each_credential_has_its_own_bucket(db: Db) {
    let app = TestApp::spawn_with(db, &SETTINGS).await;
    let emptied = app.login().await;
    let other = app.login().await;
    let answers = burst(&app, &emptied).await;
    assert!(answers.iter().any(|r| r.status() == 429));

    let response = app.get(&other, "/documents").send().await.unwrap();
    assert_eq!(response.status(), 200, "another token's bucket is full");
    assert_eq!(remaining(&response), 4, "its first request took one of 5");
}

async fn a_refusal_is_audited_like_any_answer(db: Db) {
    let app = TestApp::spawn_with(db, &SETTINGS).await;
    let token = app.login().await;
    let answers = burst(&app, &token).await;
    let refused = answers.iter().filter(|r| r.status() == 429).count();
    assert!(refused >= 1);

    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap().id;
    let from = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let to = chrono::Utc::now() + chrono::Duration::days(1);
    let lines: Vec<String> = repo
        .export_log(
            schema::LogKind::Api,
            &schema::Tenant::live(producer.clone()),
            None,
            from,
            to,
        )
        .map_ok(|line| line.fields)
        .try_collect()
        .await
        .unwrap();
    let audited = lines
        .iter()
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|columns| columns[6] == "429")
        .inspect(|columns| {
            assert_eq!(columns[4], "GET", "{columns:?}");
            assert_eq!(columns[5], "/documents", "{columns:?}");
            assert_eq!(columns[8], producer.as_str(), "{columns:?}");
            assert_eq!(columns[9], "operator@example.com", "{columns:?}");
        })
        .count();
    assert_eq!(audited, refused, "one API log line per 429");
}

/// `POST /keys` as `token` with `body`; the new key (recorded for the secret grep).
async fn new_key(app: &TestApp, token: &str, body: serde_json::Value) -> String {
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    crate::secrets::record("api key", &key);
    crate::secrets::record("api key", created["bearer"].as_str().unwrap());
    key
}

async fn an_api_keys_own_rate_limit_applies(db: Db) {
    // The instance's defaults (the harness's 1000000 a second) for tokens and plain keys.
    let app = TestApp::spawn(db).await;
    let defaults = r#""burst";q=1000000;w=1"#;
    let own = r#""burst";q=2;w=2"#;
    let token = app.login().await;
    let limited = serde_json::json!({
        "name": "slow", "scopes": ["read"], "rateLimit": {"perSecond": 1, "burst": 2},
    });
    let slow = new_key(&app, &token, limited).await;
    let plain = new_key(
        &app,
        &token,
        serde_json::json!({"name": "plain", "scopes": ["read"]}),
    )
    .await;
    let with_key = |key: &str| {
        app.client
            .get(app.url("/documents"))
            .header("x-api-key", key)
    };

    let first = with_key(&slow).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(remaining_under(&first, own) < 2);
    let answers = burst_of(|| with_key(&slow)).await;
    let mut refused = 0;
    for response in answers.into_iter().filter(|r| r.status() == 429) {
        refusal_under(response, own).await;
        refused += 1;
    }
    assert!(
        refused > 0,
        "{BURST} requests at once over the key's burst of 2"
    );

    let response = with_key(&plain).send().await.unwrap();
    assert_eq!(
        response.status(),
        200,
        "a key without rateLimit has the defaults"
    );
    remaining_under(&response, defaults);
    let response = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(response.status(), 200);
    remaining_under(&response, defaults);
}
