//! Safe retries (issue 21, item 4, the CLI's side): a loopback proxy between the CLI and the
//! API cuts the first connection as soon as the server's answer starts, that is after the
//! server committed the upload (or the delivery). The CLI sees a network error, retries under
//! the same `Idempotency-Key`, and gets the stored answer: one document, one delivery.
//! (The server's side of `Idempotency-Key` has its own tests in `idempotency.rs`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::{Producer, run_in};
use crate::common::{Db, TestApp, on_both_databases};
use crate::delivery::peers::HttpReceiver;

on_both_databases!(a_connection_cut_after_the_commit_is_retried_without_a_duplicate);

/// A TCP proxy to `upstream` whose first `cuts` connections are closed when the first bytes of
/// the answer arrive (those bytes are not passed on).
struct CutProxy {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    cut: Arc<AtomicUsize>,
}

impl CutProxy {
    async fn start(upstream: SocketAddr, cuts: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let cut = Arc::new(AtomicUsize::new(0));
        let (seen, done) = (connections.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let server = TcpStream::connect(upstream).await.unwrap();
                let done = done.clone();
                tokio::spawn(async move {
                    if n < cuts {
                        cut_after_answer_starts(client, server).await;
                        done.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let (mut client, mut server) = (client, server);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            addr,
            connections,
            cut,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Passes the request on, waits for the first byte of the answer, then drops both sides.
async fn cut_after_answer_starts(client: TcpStream, server: TcpStream) {
    let (mut client_read, _client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let forward = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut first = [0u8; 1];
    let _ = server_read.read(&mut first).await;
    forward.abort();
}

/// An API key with every producer scope (the proxy's URL is not the API's own, which a login
/// assertion must name, so the CLI uses a key here).
async fn api_key(app: &TestApp) -> String {
    let token = app.login().await;
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "cli-retry", "scopes": ["read", "write", "deliver", "logs"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let key = body["key"].as_str().unwrap().to_owned();
    crate::secrets::record("api key", &key);
    key
}

async fn a_connection_cut_after_the_commit_is_retried_without_a_duplicate(db: Db) {
    let app = TestApp::spawn(db).await;
    let key = api_key(&app).await;
    let producer = Producer::of(&app);
    let upstream: SocketAddr = app.api.trim_start_matches("http://").parse().unwrap();
    let receiver = HttpReceiver::start();
    let fulfillment = json!({"type": "http", "href": format!("{}/hook", receiver.0.url()),
        "body": "to={email_address}&link={+link}"});
    let file = producer.file("r.txt", b"retried once");
    let csv = producer.file("v.csv", super::AUDIENCE_CSV.as_bytes());
    let proxy = CutProxy::start(upstream, 1).await;
    let env = [("SEALPOST_API_KEY", key.as_str())];
    let fulfillment = fulfillment.to_string();
    let args = [
        "upload",
        &file,
        "--api",
        &proxy.url(),
        "--json",
        "--audience",
        &csv,
        "--token-fields",
        "telephone",
        "--fulfillment",
        &fulfillment,
    ];
    let run = run_in(producer.dir.path(), &args, &env).await.ok();
    assert_eq!(
        proxy.cut.load(Ordering::SeqCst),
        1,
        "the first answer was cut"
    );
    assert!(
        proxy.connections.load(Ordering::SeqCst) >= 2,
        "and the CLI retried"
    );
    let id = run.json()["id"].as_str().unwrap().to_owned();
    let token = app.login().await;
    let list = app.get_json(&token, "/documents").await;
    let ids: Vec<&str> = list_ids(&list);
    assert_eq!(ids, [id.as_str()], "one document: {list}");

    let proxy = CutProxy::start(upstream, 1).await;
    let args = ["deliver", &id, "--wait", "--api", &proxy.url(), "--json"];
    let status = run_in(producer.dir.path(), &args, &env).await.ok().json();
    assert_eq!(proxy.cut.load(Ordering::SeqCst), 1);
    assert_eq!(status["counts"]["sent"], 2);
    assert_eq!(receiver.requests().await.len(), 2, "one delivery, not two");
}

/// The ids of a `GET /documents` answer (`{"documents": [{"{id}": "{name}"}, …]}`).
fn list_ids(list: &Value) -> Vec<&str> {
    list["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("unexpected list: {list}"))
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|entry| entry.keys().map(String::as_str))
        .collect()
}
