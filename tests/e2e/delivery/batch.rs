//! Batch HTTP fulfillment (`"batch": true`): one POST for the whole audience, the record fields
//! and `link` expanded as RFC 6570 lists in record order, checked byte for byte at a real
//! receiver; every listed sealed link opens at the gateway.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::peers::HttpReceiver;
use super::{
    FAST, assert_link_opens, bearer, deliver, three_records, token_query, upload, wait_done,
};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(one_request_carries_every_record_as_lists);

async fn one_request_carries_every_record_as_lists(db: Db) {
    let receiver = HttpReceiver::start();
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let fulfillment = json!({
        "type": "http",
        "href": format!("{}/hook/batch", receiver.0.url()),
        "body": "to={email_address}&names={first_name}&doc={docId}&campaign={campaign}&links={+link}",
        "batch": true,
    });
    let id = upload(&app, &token, &three_records(), &fulfillment).await;
    let location = deliver(&app, &token, &id, &[("campaign", "spring 26")]).await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 1, "failed": 0}),
        "{status}"
    );
    let recipients = status["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1, "{status}");
    assert!(recipients[0]["record"].is_null(), "{status}");

    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 1, "one request for the whole audience");
    let request = &requests[0];
    assert_eq!(request["path"], "/hook/batch");
    assert_eq!(
        request["headers"]["idempotency-key"],
        format!("{delivery}.0")
    );
    let body =
        String::from_utf8(STANDARD.decode(request["body"].as_str().unwrap()).unwrap()).unwrap();
    let links = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("links="))
        .unwrap()
        .to_owned();
    assert_eq!(
        body,
        format!(
            "to=h%40ipo.st,z%40ipo.st,a%40ipo.st&names=Harry,Zo%C3%AB,Ann&doc={id}\
             &campaign=spring%2026&links={links}"
        ),
        "byte for byte"
    );
    let links: Vec<&str> = links.split(',').collect();
    assert_eq!(links.len(), 3, "{links:?}");
    for (i, link) in links.iter().enumerate() {
        assert_link_opens(&app, link, token_query(i)).await;
    }
}
