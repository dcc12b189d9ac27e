//! Issue 14, finding 3 (SSRF): deliveries to the instance's own network. Without
//! `egress.allow`, HTTP, XML-RPC and email deliveries to loopback — written as `127.0.0.1`,
//! `localhost`, `0.0.0.0`, `[::1]`, `[::ffff:127.0.0.1]` or `2130706433` — reach nothing (the
//! loopback peers count zero requests) and fail with "refused by egress policy", nothing
//! more; with the allowlist the same deliveries arrive. Only loopback traffic is sent.

use serde_json::{Value, json};

use super::peers::{HttpReceiver, Peer, SmtpSink};
use super::{FAST, bearer, deliver, upload, wait_done};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    loopback_deliveries_are_refused_by_default,
    loopback_deliveries_work_with_the_allowlist
);

/// Every way the tests write a loopback host (the last the decimal form of 127.0.0.1).
const LOOPBACK_FORMS: [&str; 6] = [
    "127.0.0.1",
    "localhost",
    "0.0.0.0",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "2130706433",
];

fn one_record() -> Value {
    json!({"type": "records", "viewerToken": "{?v}", "data": {"records": [
        {"v": "1", "email_address": "ann@ipo.st"}
    ]}})
}

fn http(host: &str, port: u16) -> Value {
    json!({"type": "http", "href": format!("http://{host}:{port}/hook"), "body": "link={+link}"})
}

fn xmlrpc(host: &str, port: u16) -> Value {
    json!({"type": "xmlrpc", "href": format!("http://{host}:{port}/RPC2"),
        "methodName": "mailing.trigger", "params": ["{+link}"]})
}

fn email() -> Value {
    json!({"type": "email", "from": "documents@sealpost.example", "to": "{+email_address}",
        "subject": "Your document", "body": "{+link}"})
}

/// Uploads one document with `fulfillment`, delivers it with `fields` and returns the one
/// recipient's final status.
async fn deliver_one(
    app: &TestApp,
    token: &str,
    fulfillment: &Value,
    fields: &[(&str, &str)],
) -> Value {
    let id = upload(app, token, &one_record(), fulfillment).await;
    let location = deliver(app, token, &id, fields).await;
    let status = wait_done(&app.client, &bearer(token), &location, 30).await;
    status["recipients"][0].clone()
}

/// How many calls the XML-RPC receiver recorded.
async fn xmlrpc_calls(server: &Peer) -> usize {
    let body = "<?xml version=\"1.0\"?><methodCall><methodName>sealpost_test.calls</methodName><params/></methodCall>";
    let answer = reqwest::Client::new()
        .post(format!("{}/RPC2", server.url()))
        .header("Content-Type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answer.matches("<struct>").count()
}

async fn loopback_deliveries_are_refused_by_default(db: Db) {
    let receiver = HttpReceiver::start();
    let rpc = Peer::start("xmlrpc_receiver.py", &["0"]);
    let sink = SmtpSink::start();
    let mut settings = FAST.to_vec();
    settings.push(("egress.allow", ""));
    let app = TestApp::spawn_with(db, &settings).await;
    let token = app.login().await;
    for host in LOOPBACK_FORMS {
        let smtp_url = format!("smtp://{host}:{}", sink.peer.port);
        for (fulfillment, fields) in [
            (http(host, receiver.0.port), vec![]),
            (xmlrpc(host, rpc.port), vec![]),
            (email(), vec![("smtp_url", smtp_url.as_str())]),
        ] {
            let recipient = deliver_one(&app, &token, &fulfillment, &fields).await;
            assert_eq!(recipient["status"], "failed", "{host}: {recipient}");
            assert_eq!(recipient["attempts"], 1, "{host}: {recipient}");
            // The reason, and nothing about the target.
            assert_eq!(
                recipient["error"], "refused by egress policy",
                "{host}: {recipient}"
            );
        }
    }
    assert!(receiver.requests().await.is_empty());
    assert_eq!(xmlrpc_calls(&rpc).await, 0);
    assert!(sink.messages().is_empty());
}

async fn loopback_deliveries_work_with_the_allowlist(db: Db) {
    let receiver = HttpReceiver::start();
    let rpc = Peer::start("xmlrpc_receiver.py", &["0"]);
    let sink = SmtpSink::start();
    let mut settings = FAST.to_vec();
    // The suite's allowlist (loopback), and the unspecified address, which Linux connects to
    // this host: only what is listed is reopened.
    settings.push(("egress.allow", "127.0.0.0/8,::1/128,0.0.0.0/32"));
    let app = TestApp::spawn_with(db, &settings).await;
    let token = app.login().await;
    // `[::1]` is left out: the peers listen on 127.0.0.1 only.
    let forms = [
        "127.0.0.1",
        "localhost",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "2130706433",
    ];
    for host in forms {
        // 0.0.0.0 is not a loopback address: STARTTLS is required there unless opted out
        // (issue 14, finding 9), and the sink offers none.
        let opt_out = if host == "0.0.0.0" {
            "?tls=opportunistic"
        } else {
            ""
        };
        let smtp_url = format!("smtp://{host}:{}{opt_out}", sink.peer.port);
        for (fulfillment, fields) in [
            (http(host, receiver.0.port), vec![]),
            (xmlrpc(host, rpc.port), vec![]),
            (email(), vec![("smtp_url", smtp_url.as_str())]),
        ] {
            let recipient = deliver_one(&app, &token, &fulfillment, &fields).await;
            assert_eq!(recipient["status"], "sent", "{host}: {recipient}");
        }
    }
    assert_eq!(receiver.requests().await.len(), forms.len());
    assert_eq!(xmlrpc_calls(&rpc).await, forms.len());
    assert_eq!(sink.messages().len(), forms.len());
}
