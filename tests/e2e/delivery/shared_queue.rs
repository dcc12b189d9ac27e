//! Two API servers on one database share the queue: every job is claimed by one of them, so
//! no recipient is sent twice (row locks on PostgreSQL, serialized claims on SQLite).

use std::collections::HashSet;

use serde_json::json;

use super::peers::HttpReceiver;
use super::{FAST, bearer, deliver, many_records, upload, wait_done};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(two_servers_share_one_queue);

const RECORDS: usize = 300;

async fn two_servers_share_one_queue(db: Db) {
    let receiver = HttpReceiver::start();
    // A little latency, so both workers have claims in flight at once.
    receiver.script(&[], 10).await;
    let settings = [FAST, &[("delivery.concurrency", "4")]].concat();
    let app = TestApp::spawn_with(db, &settings).await;
    // A second instance on the same data directory and database: its own worker.
    let second = sealpost::instance::Instance::start(&app.settings)
        .await
        .unwrap();
    let token = app.login().await;
    let fulfillment = json!({
        "type": "http",
        "href": format!("{}/shared", receiver.0.url()),
        "body": "to={email_address}&link={+link}",
    });
    let id = upload(&app, &token, &many_records(RECORDS), &fulfillment).await;
    let location = deliver(&app, &token, &id, &[]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 60).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": RECORDS, "failed": 0})
    );
    let requests = receiver.requests().await;
    let keys: HashSet<&str> = requests
        .iter()
        .map(|r| r["headers"]["idempotency-key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), RECORDS, "every recipient");
    assert_eq!(requests.len(), RECORDS, "no job claimed by both servers");
    second.stop().await;
}
