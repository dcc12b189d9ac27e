//! XML-RPC fulfillment against Python's `xmlrpc.server`: one `methodCall` per record, checked
//! byte for byte as the server received it; a fault fails the job with its reason.

use serde_json::{Value, json};

use super::peers::Peer;
use super::{
    FAST, assert_link_opens, bearer, deliver, three_records, token_query, upload, wait_done,
};
use crate::common::{Db, TestApp, on_both_databases};

on_both_databases!(three_records_each_get_a_call, faults_are_final);

fn fulfillment(server: &Peer, method: &str) -> Value {
    json!({
        "type": "xmlrpc",
        "href": format!("{}/RPC2", server.url()),
        "methodName": method,
        "params": ["{+email_address}", "{+link}", "{list_id}", "<{+first_name}> & co"],
    })
}

/// The calls the server recorded (its `sealpost_test.calls` method), decoded from XML-RPC.
async fn calls(server: &Peer) -> Vec<Value> {
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
    // Each call is a struct; the raw request and its key are strings in it. Read them with a
    // tiny scan: the members are `<name>raw</name><value><string>…</string></value>`.
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
    };
    let member = |chunk: &str, name: &str| {
        let at = chunk.find(&format!("<name>{name}</name>"))?;
        let rest = &chunk[at..];
        let start = rest.find("<string>")? + "<string>".len();
        let end = rest[start..].find("</string>")?;
        Some(unescape(&rest[start..start + end]))
    };
    answer
        .split("<struct>")
        .skip(1)
        .map(|chunk| json!({"raw": member(chunk, "raw"), "key": member(chunk, "key"), "path": member(chunk, "path"), "contentType": member(chunk, "contentType")}))
        .collect()
}

async fn three_records_each_get_a_call(db: Db) {
    let server = Peer::start("xmlrpc_receiver.py", &["0"]);
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(
        &app,
        &token,
        &three_records(),
        &fulfillment(&server, "mailing.trigger"),
    )
    .await;
    let location = deliver(&app, &token, &id, &[("list_id", "L-42")]).await;
    let delivery = location.rsplit('/').next().unwrap().to_owned();
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 3, "failed": 0}),
        "{status}"
    );
    let mut calls = calls(&server).await;
    assert_eq!(calls.len(), 3);
    calls.sort_by_key(|call| call["key"].as_str().unwrap().to_owned());
    let records = [
        ("h@ipo.st", "Harry"),
        ("z@ipo.st", "Zo%C3%AB"),
        ("a@ipo.st", "Ann"),
    ];
    for (i, (call, (address, name))) in calls.iter().zip(records).enumerate() {
        assert_eq!(call["key"], format!("{delivery}.{i}"));
        assert_eq!(call["path"], "/RPC2");
        assert_eq!(call["contentType"], "text/xml");
        let raw = call["raw"].as_str().unwrap();
        let start = raw.find(&format!("{}/l/", app.gateway)).unwrap();
        let link = &raw[start..start + raw[start..].find('<').unwrap()];
        let expected = format!(
            "<?xml version=\"1.0\"?>\n<methodCall><methodName>mailing.trigger</methodName><params>\
             <param><value><string>{address}</string></value></param>\
             <param><value><string>{link}</string></value></param>\
             <param><value><string>L-42</string></value></param>\
             <param><value><string>&lt;{name}&gt; &amp; co</string></value></param>\
             </params></methodCall>\n"
        );
        assert_eq!(raw, expected, "byte for byte");
        assert_link_opens(&app, link, token_query(i)).await;
    }
}

async fn faults_are_final(db: Db) {
    let server = Peer::start("xmlrpc_receiver.py", &["0"]);
    let app = TestApp::spawn_with(db, FAST).await;
    let token = app.login().await;
    let id = upload(
        &app,
        &token,
        &three_records(),
        &fulfillment(&server, "mailing.refuse"),
    )
    .await;
    let location = deliver(&app, &token, &id, &[("list_id", "L-42")]).await;
    let status = wait_done(&app.client, &bearer(&token), &location, 20).await;
    assert_eq!(
        status["counts"],
        json!({"queued": 0, "sent": 0, "failed": 3}),
        "{status}"
    );
    let first = &status["recipients"][0];
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["error"], "XML-RPC fault 4: unknown mailing h@ipo.st");
}
