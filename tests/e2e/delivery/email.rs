//! Email fulfillment through a real SMTP server (PyPI's `aiosmtpd`): one message per
//! record, checked byte for byte once decoded, its link opening at the gateway.

use serde_json::json;

use super::peers::SmtpSink;
use super::{
    FAST, assert_link_opens, bearer, deliver, three_records, token_query, upload, wait_done,
};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(
    three_records_each_get_a_message,
    smtp_credentials_from_the_request
);

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` octets.
fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.replace("=\r\n", "").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn three_records_each_get_a_message(db: Db) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let fulfillment = json!({
        "type": "email",
        "from": "documents@sealpost.example",
        "to": "{+email_address}",
        "subject": "Your document, {+first_name}",
        "body": "Hello {+first_name},\n\nyour document: {+link}\n\n-- {+sender}\n",
    });
    let id = upload(&app, &token, &three_records(), &fulfillment).await;
    let smtp_url = format!("smtp://127.0.0.1:{}", sink.peer.port);
    let location = deliver(
        &app,
        &token,
        &id,
        &[("smtp_url", &smtp_url), ("sender", "The Team")],
    )
    .await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );

    let mut messages = sink.messages();
    assert_eq!(messages.len(), 3);
    let id_of = |raw: &[u8]| {
        let text = String::from_utf8_lossy(raw).to_string();
        let line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_owned();
        line.split_once(':').unwrap().1.trim().to_owned()
    };
    messages.sort_by_key(|(_, raw)| id_of(raw));
    let names = ["Harry", "Zo%C3%AB", "Ann"];
    let addresses = ["h@ipo.st", "z@ipo.st", "a@ipo.st"];
    for (i, (envelope, raw)) in messages.iter().enumerate() {
        assert_eq!(
            envelope,
            &json!({"from": "documents@sealpost.example", "to": [addresses[i]], "login": null})
        );
        let text = String::from_utf8(raw.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} in {head}"))
                .to_owned()
        };
        assert_eq!(
            header("Message-ID"),
            format!("<{delivery}.{i}@sealpost>"),
            "the idempotency key"
        );
        assert_eq!(header("From"), "documents@sealpost.example");
        assert_eq!(header("To"), addresses[i]);
        assert_eq!(header("Subject"), format!("Your document, {}", names[i]));
        assert_eq!(header("Content-Type"), "text/plain; charset=utf-8");
        assert_eq!(header("Content-Transfer-Encoding"), "quoted-printable");
        let body = String::from_utf8(quoted_printable(body)).unwrap();
        let link = body
            .lines()
            .find_map(|l| l.strip_prefix("your document: "))
            .unwrap()
            .to_owned();
        // lettre sends CRLF line ends, as SMTP requires, and ends the encoded body with one
        // more line break of its own.
        assert_eq!(
            body,
            format!(
                "Hello {},\r\n\r\nyour document: {link}\r\n\r\n-- The%20Team\r\n\r\n",
                names[i]
            )
        );
        assert_link_opens(&app, &link, token_query(i)).await;
    }
}

async fn smtp_credentials_from_the_request(db: Db) {
    let sink = SmtpSink::start_with_login("sealpost@ex:s3cret pass!");
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let fulfillment = json!({
        "type": "email",
        "from": "documents@sealpost.example",
        "to": "{+email_address}",
        "subject": "Your document",
        "body": "{+link}\n",
    });
    let id = upload(&app, &token, &three_records(), &fulfillment).await;
    let port = sink.peer.port;
    // The password is a secret the suite-wide grep looks for in every log.
    crate::secrets::record("smtp password", "s3cret pass!");
    let wrong = format!("smtp://sealpost%40ex:wr0ng-pass@127.0.0.1:{port}");
    let location = deliver(&app, &token, &id, &[("smtp_url", &wrong)]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 0, "failed": 3}),
        "{status}"
    );
    assert_eq!(
        status["recipients"][0]["attempts"], 1,
        "a refused login is final"
    );
    assert!(!status.to_string().contains("wr0ng"), "{status}");
    assert!(sink.messages().is_empty());

    let right = format!("smtp://sealpost%40ex:s3cret%20pass%21@127.0.0.1:{port}");
    let location = deliver(&app, &token, &id, &[("smtp_url", &right)]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    for (envelope, _) in &messages {
        assert_eq!(envelope["login"], "sealpost@ex", "{envelope}");
    }
}
