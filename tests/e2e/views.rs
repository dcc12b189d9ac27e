//! The auditor's report and receipts (issue 22, items 1-3): the gateway attributes each
//! document request to the audience record it matched (in the commit of its log line), the
//! vault's downloads join through the handle's nonce, and `GET /documents/{docId}/views`
//! (JSON and CSV) and `GET /documents/{docId}/views/{n}/receipt` say who opened, passed,
//! failed and downloaded; `sealpost receipt verify` checks a receipt. Both databases.

mod scenario;

use api_server::payload::PayloadKey;
use serde_json::{Value, json};

use crate::common::{Db, on_both_databases};
use scenario::{CONTENT_LEN, Scenario};

on_both_databases!(
    the_report_says_who_opened_failed_passed_and_downloaded,
    the_csv_report_says_the_same,
    a_receipt_verifies_and_fails_after_one_changed_byte,
    the_report_needs_the_logs_scope_and_a_known_record,
    the_report_streams_signed_over_the_bytes_sent,
);

async fn the_report_says_who_opened_failed_passed_and_downloaded(db: Db) {
    let mut app = scenario::spawn(db).await;
    let scenario = Scenario::play(&app).await;
    let report = scenario.report_json(&app).await;
    assert_eq!(report["document"], scenario.doc.id.as_str());
    assert_eq!(report["viewerToken"], json!(["email"]));
    let rows = report["records"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{report}");

    let ann = &rows[0];
    assert_eq!(ann["record"], 0);
    assert_eq!(ann["viewer"], json!({"email": "ann@example.com"}));
    assert_eq!(ann["delivered"], Value::Null);
    assert_eq!(ann["opened"]["count"], 2);
    assert!(ann["opened"]["first"].as_str().unwrap() <= ann["opened"]["last"].as_str().unwrap());
    assert_eq!(ann["challenge"], json!({"passed": 2, "failed": 0}));
    assert_eq!(ann["handles"], 2);
    assert_eq!(ann["downloads"]["complete"], 1);
    assert_eq!(ann["downloads"]["partial"], 0);
    assert_eq!(ann["downloads"]["bytes"], CONTENT_LEN);
    assert_eq!(ann["lastAddress"], "127.0.0.1");

    let bob = &rows[1];
    assert_eq!(bob["viewer"], json!({"email": "bob@example.com"}));
    assert_eq!(bob["opened"]["count"], 2);
    assert_eq!(bob["challenge"], json!({"passed": 1, "failed": 1}));
    assert_eq!(bob["handles"], 1);
    let none = json!({"complete": 0, "partial": 0, "bytes": 0, "last": null});
    assert_eq!(bob["downloads"], none);

    let cat = &rows[2];
    assert_eq!(cat["viewer"], json!({"email": "cat@example.com"}));
    assert_eq!(
        cat["opened"],
        json!({"count": 0, "first": null, "last": null})
    );
    assert_eq!(cat["challenge"], json!({"passed": 0, "failed": 0}));
    assert_eq!((&cat["handles"], &cat["downloads"]), (&json!(0), &none));
    assert_eq!(cat["lastAddress"], Value::Null);
    // Only the viewer-token fields: never the password field.
    assert!(!report.to_string().contains("pw-ann"), "{report}");
    app.stop().await;
}

async fn the_csv_report_says_the_same(db: Db) {
    let mut app = scenario::spawn(db).await;
    let scenario = Scenario::play(&app).await;
    let response = scenario.get(&app, "/views?format=csv").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|line| line.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        [
            "record",
            "email",
            "delivered_time",
            "delivered_status",
            "opened_first",
            "opened_last",
            "opened_count",
            "challenge_passed",
            "challenge_failed",
            "handles_issued",
            "downloads_complete",
            "downloads_partial",
            "bytes_sent",
            "last_download",
            "last_address"
        ]
    );
    assert_eq!(lines.len(), 4, "{text}");
    let counts = |line: &[&str]| line[6..13].join(",");
    let bytes = CONTENT_LEN.to_string();
    assert_eq!(lines[1][..4], ["0", "ann@example.com", "", ""]);
    assert_eq!(counts(&lines[1]), format!("2,2,0,2,1,0,{bytes}"));
    assert_eq!((lines[1][14]), "127.0.0.1");
    assert_eq!(lines[2][..2], ["1", "bob@example.com"]);
    assert_eq!(counts(&lines[2]), "2,1,1,1,0,0,0");
    assert_eq!(
        lines[3],
        [
            "2",
            "cat@example.com",
            "",
            "",
            "",
            "",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "0",
            "",
            ""
        ]
    );
    app.stop().await;
}

async fn a_receipt_verifies_and_fails_after_one_changed_byte(db: Db) {
    let mut app = scenario::spawn(db).await;
    let scenario = Scenario::play(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let published = app
        .client
        .get(app.url("/.well-known/sealpost-keys"))
        .send()
        .await
        .unwrap();
    std::fs::write(&keys, published.bytes().await.unwrap()).unwrap();

    let response = scenario.get(&app, "/views/0/receipt").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let receipt: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(receipt["type"], "sealpost-view-receipt-v1");
    assert_eq!(receipt["document"]["id"], scenario.doc.id.as_str());
    assert_eq!(receipt["document"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        receipt["record"],
        json!({"index": 0, "viewer": {"email": "ann@example.com"}})
    );
    assert_eq!(receipt["challenge"], "basic");
    assert_eq!(receipt["handles"].as_array().unwrap().len(), 2);
    assert_eq!(receipt["downloads"].as_array().unwrap().len(), 1);
    assert_eq!(receipt["downloads"][0]["complete"], true);
    assert_eq!(receipt["bytesSent"], CONTENT_LEN);
    assert_eq!(receipt["downloaded"], "complete");
    let file = dir.path().join("receipt.json");
    std::fs::write(&file, &text).unwrap();
    let (ok, stdout, stderr) = scenario::run_verify(&file, &keys).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("receipt OK"), "{stdout}");

    let sent = format!("\"bytesSent\":{CONTENT_LEN}");
    let changed = text.replacen(&sent, &format!("\"bytesSent\":{}", CONTENT_LEN + 1), 1);
    assert_eq!(changed.len(), text.len(), "one byte changed");
    assert_ne!(changed, text);
    std::fs::write(&file, changed).unwrap();
    let (ok, _, stderr) = scenario::run_verify(&file, &keys).await;
    assert!(!ok, "a changed receipt must not verify");
    assert!(stderr.contains("does not verify"), "{stderr}");

    let never: Value = scenario
        .get(&app, "/views/2/receipt")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(never["downloaded"], "never");
    assert_eq!(
        (&never["handles"], &never["bytesSent"]),
        (&json!([]), &json!(0))
    );
    let file = dir.path().join("never.json");
    std::fs::write(&file, never.to_string()).unwrap();
    assert!(scenario::run_verify(&file, &keys).await.0);
    app.stop().await;
}

async fn the_report_needs_the_logs_scope_and_a_known_record(db: Db) {
    let mut app = scenario::spawn(db).await;
    let scenario = Scenario::play(&app).await;
    let read_only = scenario::api_key(&app, &scenario.token, "reader", &["read"]).await;
    let auditor = scenario::api_key(&app, &scenario.token, "auditor", &["logs"]).await;
    for path in ["/views", "/views/0/receipt"] {
        let url = app.url(&format!("/documents/{}{path}", scenario.doc.id));
        let status = |key: String| {
            let request = app.client.get(&url).header("x-api-key", key);
            async move { request.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(status(read_only.clone()).await, 403, "{path}");
        assert_eq!(status(auditor.clone()).await, 200, "{path}");
    }
    for missing in ["/views/3/receipt", "/views/x/receipt", "/views/-1/receipt"] {
        assert_eq!(scenario.get(&app, missing).await.status(), 404, "{missing}");
    }
    let format = scenario.get(&app, "/views?format=xml").await;
    assert_eq!(format.status(), 400);
    let other = app.add_producer("other").await;
    let other_token = app.login_with(&other).await;
    let path = format!("/documents/{}/views", scenario.doc.id);
    assert_eq!(
        app.get(&other_token, &path).send().await.unwrap().status(),
        404
    );
    app.stop().await;
}

/// The report is streamed (no `Content-Length`: the signing middleware does not hold it) and
/// signed over the bytes sent, in JSON and CSV; sealed for an encryption key, the signature
/// covers the sealed bytes instead.
async fn the_report_streams_signed_over_the_bytes_sent(db: Db) {
    let mut app = scenario::spawn(db).await;
    let scenario = Scenario::play(&app).await;
    let keys = crate::logs_export::keys(&app).await;
    let mut plain = Vec::new();
    for suffix in ["/views", "/views?format=csv"] {
        let response = scenario.get(&app, suffix).await;
        assert_eq!(response.status(), 200, "{suffix}");
        assert_eq!(response.content_length(), None, "{suffix}: streamed");
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        crate::signed_responses::verify(&keys, &headers, &body).unwrap();
        let mut flipped = body.to_vec();
        flipped[body.len() / 2] ^= 1;
        assert!(crate::signed_responses::verify(&keys, &headers, &flipped).is_err());
        plain.push(body);
    }

    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(&scenario.token)
        .json(&json!({"name": "sealed", "scopes": ["logs"], "encryption": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let key = response.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    crate::secrets::record("api key", &key);
    let path = format!("/documents/{}/views", scenario.doc.id);
    let response = (app.client.get(app.url(&path)))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let headers = response.headers().clone();
    let sealed = response.bytes().await.unwrap();
    crate::signed_responses::verify(&keys, &headers, &sealed).unwrap();
    let opened = PayloadKey::derive(&key)
        .open(&format!("200 GET {path}"), &sealed)
        .unwrap();
    let report: Value = serde_json::from_slice(&opened).unwrap();
    assert_eq!(report, serde_json::from_slice::<Value>(&plain[0]).unwrap());
    app.stop().await;
}
