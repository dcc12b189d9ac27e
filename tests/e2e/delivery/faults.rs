//! Faults at the HTTP receiver: down then up, 500 then 200, 400 (final).

use serde_json::json;

use super::http::fulfillment;
use super::peers::{HttpReceiver, free_port};
use super::{FAST, bearer, deliver, status, three_records, upload, wait_done};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    receiver_down_then_up,
    server_errors_are_retried,
    client_errors_are_final
);

async fn receiver_down_then_up(db: Db) {
    let port = free_port();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let href = json!({"type": "http", "href": format!("http://127.0.0.1:{port}/hook"), "body": "to={email_address}"});
    let id = upload(&app, &token, &three_records(), &href).await;
    let location = deliver(&app, &token, &id, &[]).await;
    // Nothing listens: every job is retried, with the reason shown.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = status(&app.client, &bearer(&token), &location).await;
        let recipients = status["recipients"].as_array().unwrap().clone();
        if recipients
            .iter()
            .all(|r| r["attempts"].as_i64().unwrap() >= 3)
        {
            for recipient in &recipients {
                assert_eq!(recipient["status"], "queued", "{status}");
                assert_eq!(recipient["error"], "the receiver could not be reached");
                assert!(recipient["nextAttempt"].is_string());
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let receiver = HttpReceiver::start_on(port);
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let requests = receiver.requests().await;
    assert_eq!(
        requests.len(),
        3,
        "each recipient served once once the receiver was up"
    );
}

async fn server_errors_are_retried(db: Db) {
    let receiver = HttpReceiver::start();
    receiver.script(&[500, 503, 500], 0).await;
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(&app, &token, &three_records(), &fulfillment(&receiver)).await;
    let location = deliver(&app, &token, &id, &[("campaign", "c"), ("api_token", "t")]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 6, "three 5xx answers, then three 200");
    let statuses: Vec<u64> = requests
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 503, 500, 200, 200, 200]);
    for recipient in status["recipients"].as_array().unwrap() {
        assert_eq!(recipient["attempts"], 2, "{status}");
    }
    let attempts = super::api_log(&app, &id)
        .await
        .into_iter()
        .filter(|l| l.contains("\tDELIVER\t"))
        .count();
    assert_eq!(
        attempts, 12,
        "an intent and a final API-log record per attempt"
    );
}

async fn client_errors_are_final(db: Db) {
    let receiver = HttpReceiver::start();
    receiver.script(&[400, 404, 400], 0).await;
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(&app, &token, &three_records(), &fulfillment(&receiver)).await;
    let location = deliver(&app, &token, &id, &[("campaign", "c"), ("api_token", "t")]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 0, "failed": 3}),
        "{status}"
    );
    for recipient in status["recipients"].as_array().unwrap() {
        assert_eq!(recipient["attempts"], 1);
        let error = recipient["error"].as_str().unwrap();
        assert!(
            error == "the receiver answered HTTP 400" || error == "the receiver answered HTTP 404",
            "{error}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.requests().await.len(), 3, "no retry after a 4xx");
}
