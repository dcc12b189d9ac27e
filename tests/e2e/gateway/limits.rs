//! Brute-force limits: per (document, viewer) locks, the hard cap, per-address limits.

use super::*;
use crate::common::{Db, on_both_databases};

on_both_databases!(
    five_failures_lock_the_viewer_for_fifteen_minutes,
    the_hard_cap_holds_until_the_producer_resets,
    one_address_gets_a_hundred_failures_an_hour,
);

async fn five_failures_lock_the_viewer_for_fifteen_minutes(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"locked",
        &[
            ("audience", audience()),
            ("challenge", basic(field("code"))),
        ],
    )
    .await;
    let client = no_redirects();
    for attempt in 1..=4 {
        let response = client
            .get(harry(&app, &doc))
            .basic_auth("", Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let fifth = client
        .get(harry(&app, &doc))
        .basic_auth("", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(fifth.status(), 429);
    let retry: i64 = fifth.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    // Locked: even the right password waits.
    let right = client
        .get(harry(&app, &doc))
        .basic_auth("", Some("tiger"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 429);
    // Another viewer of the same document is not locked.
    let jane = format!(
        "{}/{}?telephone=4154445512&first_name=Jane",
        app.gateway, doc.placeholder
    );
    let response = client
        .get(&jane)
        .basic_auth("", Some("lion"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

async fn the_hard_cap_holds_until_the_producer_resets(db: Db) {
    let app = TestApp::spawn_with(
        db,
        &[
            ("gateway.failures_per_lock", "1"),
            ("gateway.first_lock_secs", "1"),
            ("gateway.max_lock_secs", "1"),
            ("gateway.hard_cap_failures", "3"),
        ],
    )
    .await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"capped",
        &[("challenge", basic(literal("pw")))],
    )
    .await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let client = no_redirects();
    for _ in 0..2 {
        let response = client
            .get(&url)
            .basic_auth("", Some("no"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let third = client
        .get(&url)
        .basic_auth("", Some("no"))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let still = client
        .get(&url)
        .basic_auth("", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 429, "the hard cap outlives the lock length");
    let reset = app
        .client
        .delete(app.url(&format!("/documents/{}/locks", doc.id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let open = client
        .get(&url)
        .basic_auth("", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 303);
}

async fn one_address_gets_a_hundred_failures_an_hour(db: Db) {
    let app = TestApp::spawn_with(db, &[("gateway.address_failures_per_hour", "3")]).await;
    let token = app.login().await;
    let client = no_redirects();
    // Three documents, one failure each (no pair lock), then the address is refused.
    for index in 0..3 {
        let doc = create(&app, &token, b"x", &[("challenge", basic(literal("pw")))]).await;
        let url = format!("{}/{}", app.gateway, doc.placeholder);
        let response = client
            .get(&url)
            .basic_auth("", Some("no"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), if index < 2 { 401 } else { 429 });
    }
    let doc = create(&app, &token, b"x", &[("challenge", basic(literal("pw")))]).await;
    let url = format!("{}/{}", app.gateway, doc.placeholder);
    let response = client
        .get(&url)
        .basic_auth("", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
}
