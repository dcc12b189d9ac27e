//! `kill -9` of the serving process mid-delivery: after a restart every recipient is served,
//! and none twice by a receiver that honours `Idempotency-Key`.

use std::collections::HashMap;

use serde_json::json;

use super::peers::HttpReceiver;
use super::{many_records, wait_done};
use crate::cli::Daemon;
use crate::common::Db;

crate::common::on_both_databases!(killed_mid_delivery_resumes_after_restart);

const RECORDS: usize = 60;

async fn killed_mid_delivery_resumes_after_restart(db: Db) {
    let receiver = HttpReceiver::start();
    // Slow answers, so the kill lands while attempts are in flight.
    receiver.script(&[], 400).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let url = db.fresh_database(&data_dir).await;
    let env = [
        ("SEALPOST__DELIVERY__CONCURRENCY", "4"),
        ("SEALPOST__DELIVERY__POLL_MS", "50"),
        ("SEALPOST__DELIVERY__LEASE_MS", "1500"),
        ("SEALPOST__DELIVERY__TIMEOUT_MS", "1000"),
        ("SEALPOST__DELIVERY__BACKOFF_BASE_MS", "50"),
    ];
    let daemon = Daemon::try_start_with_env(&data_dir, &url, &env).unwrap();
    let auth = super::bearer(&daemon.login().await);
    let api = format!("http://{}", daemon.api_addr);
    let client = reqwest::Client::new();
    let fulfillment = json!({"type": "http", "href": format!("{}/crash", receiver.0.url()), "body": "to={email_address}&link={+link}"});
    let audience = many_records(RECORDS);
    let location = super::daemon_deliver(&daemon, &auth, &audience, &fulfillment, &[]).await;
    let path = location.strip_prefix(&api).unwrap().to_owned();

    // Kill it once some recipients were served, while others wait at the receiver.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while receiver.requests().await.len() < 8 || receiver.in_flight().await < 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    daemon.kill_9();
    let served_before = receiver.requests().await.len();
    assert!(served_before < RECORDS, "killed mid-delivery");

    receiver.script(&[], 0).await;
    let daemon = Daemon::try_start_with_env(&data_dir, &url, &env).unwrap();
    let auth = super::bearer(&daemon.login().await);
    let location = format!("http://{}{path}", daemon.api_addr);
    let status = wait_done(&client, &auth, &location, 60).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": RECORDS, "failed": 0}),
        "{status}"
    );

    // Every key served exactly once; a resend of a key in flight at the kill is a duplicate
    // the receiver recognised, not a second service.
    let mut served: HashMap<String, usize> = HashMap::new();
    let requests = receiver.requests().await;
    let repeats = requests.iter().filter(|r| r["duplicate"] == true).count();
    assert!(
        repeats >= 1,
        "attempts in flight at the kill were sent again after the restart"
    );
    for request in requests {
        if !request["duplicate"].as_bool().unwrap() && request["status"] == 200 {
            *served
                .entry(
                    request["headers"]["idempotency-key"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
                .or_default() += 1;
        }
    }
    assert_eq!(served.len(), RECORDS, "every recipient served");
    assert!(served.values().all(|&n| n == 1), "none twice: {served:?}");
    daemon.terminate();
}
