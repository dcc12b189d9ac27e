//! Generic HTTP fulfillment: one POST per audience record, checked byte for byte at a real
//! receiver, sealed links that open at the gateway, one API-log record per attempt.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::peers::HttpReceiver;
use super::{
    FAST, api_log, assert_link_opens, bearer, deliver, three_records, token_query, upload,
    wait_done,
};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(three_records_each_get_their_request, ten_thousand_records);

pub fn fulfillment(receiver: &HttpReceiver) -> Value {
    json!({
        "type": "http",
        "href": format!("{}/hook/{{first_name}}", receiver.0.url()),
        "headers": {"X-Campaign": "{campaign}", "Authorization": "Bearer {api_token}"},
        "body": "to={email_address}&name={first_name}&link={+link}&doc={docId}&campaign={campaign}",
    })
}

/// The requests' `Idempotency-Key` → request, for keys `{delivery}.{n}`.
fn by_recipient(requests: &[Value], delivery: &str) -> Vec<Value> {
    let mut sorted: Vec<(usize, Value)> = requests
        .iter()
        .map(|request| {
            let key = request["headers"]["idempotency-key"].as_str().unwrap();
            let (id, n) = key.rsplit_once('.').unwrap();
            assert_eq!(id, delivery);
            (n.parse().unwrap(), request.clone())
        })
        .collect();
    sorted.sort_by_key(|(n, _)| *n);
    sorted.into_iter().map(|(_, request)| request).collect()
}

async fn three_records_each_get_their_request(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(&app, &token, &three_records(), &fulfillment(&receiver)).await;
    let location = deliver(
        &app,
        &token,
        &id,
        &[("campaign", "spring 26"), ("api_token", "s3cr3t-t0ken")],
    )
    .await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    for (i, recipient) in status["recipients"].as_array().unwrap().iter().enumerate() {
        assert_eq!(recipient["recipient"], i);
        assert_eq!(recipient["record"], i);
        assert_eq!(
            (recipient["status"].as_str(), recipient["attempts"].as_i64()),
            (Some("sent"), Some(1))
        );
        assert!(recipient.get("error").is_none(), "{recipient}");
    }

    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 3);
    let requests = by_recipient(&requests, &delivery);
    let expected = [
        ("h%40ipo.st", "Harry"),
        ("z%40ipo.st", "Zo%C3%AB"),
        ("a%40ipo.st", "Ann"),
    ];
    for (i, (request, (to, name))) in requests.iter().zip(expected).enumerate() {
        assert_eq!(request["method"], "POST");
        assert_eq!(request["path"], format!("/hook/{name}"));
        let headers = &request["headers"];
        assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
        assert_eq!(headers["x-campaign"], "spring%2026");
        assert_eq!(headers["authorization"], "Bearer s3cr3t-t0ken");
        assert_eq!(headers["idempotency-key"], format!("{delivery}.{i}"));
        let body =
            String::from_utf8(STANDARD.decode(request["body"].as_str().unwrap()).unwrap()).unwrap();
        let link = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("link="))
            .unwrap()
            .to_owned();
        assert_eq!(
            body,
            format!("to={to}&name={name}&link={link}&doc={id}&campaign=spring%2026"),
            "byte for byte"
        );
        assert_link_opens(&app, &link, token_query(i)).await;
    }

    // The form fields (the API token among them) were held sealed, and are gone now.
    let repo = app.repo().await;
    let producer = repo.producer_by_name("default").await.unwrap().unwrap().id;
    let (doc, delivery_id) = (
        schema::DocumentId::parse(&id).unwrap(),
        schema::DocumentId::parse(&delivery).unwrap(),
    );
    let stored = repo
        .delivery(&producer, &doc, &delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.holds_secrets,
        "secrets wiped when the delivery ended"
    );

    // Per attempt, an intent record committed before the send (end-time and status `-`) and a
    // final one with the receiver's status, after the deliver request's records.
    let lines = api_log(&app, &id).await;
    let attempts: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("\tDELIVER\t"))
        .collect();
    assert_eq!(attempts.len(), 6, "{lines:#?}");
    let mut intents = std::collections::HashSet::new();
    for line in attempts {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns[0], id);
        assert_eq!(columns[3], "-", "no remote address");
        assert!(columns[5].starts_with(&format!(
            "/documents/{id}/deliveries/{delivery}/recipients/"
        )));
        let key = (columns[2], columns[5]);
        if columns[1] == "-" {
            assert_eq!(columns[6], "-", "an intent has no status");
            assert!(intents.insert(key), "one intent per attempt");
        } else {
            assert_eq!(columns[6], "200");
            assert!(intents.contains(&key), "the intent came first: {line}");
        }
        assert_eq!(columns.len(), 10);
        assert!(columns[9].contains('@'), "the operator who asked: {line}");
        assert!(
            !line.contains("s3cr3t") && !line.contains("/l/"),
            "no secret in the log: {line}"
        );
    }
}

async fn ten_thousand_records(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, &[FAST, &[("delivery.concurrency", "64")]].concat()).await;
    let token = app.login().await;
    let fulfillment = json!({
        "type": "http",
        "href": format!("{}/bulk", receiver.0.url()),
        "body": "to={email_address}&link={+link}",
    });
    let id = upload(&app, &token, &super::many_records(10_000), &fulfillment).await;
    let started = std::time::Instant::now();
    let location = deliver(&app, &token, &id, &[]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 300).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 10_000, "failed": 0})
    );
    // Every recipient served exactly once by the idempotent receiver (a resend after a
    // timeout or an expired lease is recognised by its key and not served again).
    let requests = receiver.requests().await;
    let mut served = std::collections::HashMap::<&str, usize>::new();
    for request in &requests {
        if request["duplicate"] == false {
            *served
                .entry(request["headers"]["idempotency-key"].as_str().unwrap())
                .or_default() += 1;
        }
    }
    assert_eq!(served.len(), 10_000, "every recipient");
    assert!(served.values().all(|&n| n == 1), "none twice");
    let resends = requests.len() - 10_000;
    println!(
        "delivery: 10000 records over HTTP in {seconds:.2} s ({:.0}/s, {db:?}; {resends} resends)",
        10_000.0 / seconds
    );
}
