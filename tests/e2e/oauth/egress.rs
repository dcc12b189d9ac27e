//! Issue 14, findings 3 and 4, for the OAuth provider a producer names: discovery to the
//! instance's own network is refused by the egress policy unless allowlisted (a loopback
//! provider counts zero connections); a provider streaming a 400 MB discovery answer leaves
//! the serving process's peak RSS under 100 MB, and its failure is remembered (a second
//! viewer request does not fetch it again). Only loopback traffic is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{oauth, oauth_doc};
use crate::cli::Daemon;
use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{literal, no_redirects};

on_both_databases!(
    loopback_providers_are_refused_by_default,
    a_discovered_token_endpoint_passes_the_policy_too,
    a_streaming_provider_costs_bounded_memory_once
);

/// A provider on a loopback address that counts connections and answers each with `answer`
/// (a status line and headers, maybe a body), then `body_bytes` bytes of JSON whitespace,
/// streamed.
struct Provider {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Provider {
    async fn start(answer: &'static str, body_bytes: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, |_| answer.to_owned(), body_bytes)
    }

    /// Serves on `listener`; `answer` is given the listener's port.
    fn serve(
        listener: tokio::net::TcpListener,
        answer: impl Fn(u16) -> String,
        body_bytes: usize,
    ) -> Self {
        let port = listener.local_addr().unwrap().port();
        let answer: &'static str = answer(port).leak();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request).await;
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b' '; 64 * 1024];
                    let mut sent = 0;
                    while sent < body_bytes {
                        // The gateway hanging up ends the stream.
                        if stream.write_all(&chunk).await.is_err() {
                            return;
                        }
                        sent += chunk.len();
                    }
                });
            }
        });
        Self { port, connections }
    }

    fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

const FAIL: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
const STREAM: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";

async fn loopback_providers_are_refused_by_default(db: Db) {
    let provider = Provider::start(FAIL, 0).await;
    let port = provider.port;
    let app = TestApp::spawn_with(db, &[("egress.allow", "")]).await;
    let token = app.login().await;
    let client = no_redirects();
    let issuers = [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://0.0.0.0:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://2130706433:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ];
    let mut at_gateway = 0;
    for issuer in &issuers {
        // The challenge check already refuses plain http to some forms (422 at upload);
        // those that pass it must be refused when the gateway connects.
        let Some(doc) = try_upload(&app, &token, issuer).await else {
            continue;
        };
        at_gateway += 1;
        let url = format!("{}/{}?viewer=ann", app.gateway, doc.placeholder);
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 502, "{issuer}");
        let page = response.text().await.unwrap();
        assert!(!page.contains(&port.to_string()), "{issuer}: {page}");
    }
    assert!(
        at_gateway >= 4,
        "only {at_gateway} issuers reached the gateway's check"
    );
    assert_eq!(provider.count(), 0, "a refused provider was reached");

    // The same provider is reached once the operator allows loopback.
    let allowed = TestApp::spawn(db).await;
    let token = allowed.login().await;
    let doc = oauth_doc(
        &allowed,
        &token,
        b"x",
        oauth(&issuers[0], literal("c"), literal("s")),
    )
    .await;
    let url = format!("{}/{}?viewer=ann", allowed.gateway, doc.placeholder);
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(provider.count(), 1);
}

/// Finding 3's last case: the discovery document (from an allowlisted provider) names a token
/// endpoint elsewhere — here 127.0.0.2, loopback but not allowlisted — and the gateway must
/// not POST the client secret there. With 127.0.0.0/8 allowed the same endpoint is reached.
async fn a_discovered_token_endpoint_passes_the_policy_too(db: Db) {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let token_endpoint = Provider::serve(listener, |_| FAIL.to_owned(), 0);
    let token_port = token_endpoint.port;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let discovery = Provider::serve(
        listener,
        move |port| {
            let issuer = format!("http://127.0.0.1:{port}");
            let body = serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("http://127.0.0.2:{token_port}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
            })
            .to_string();
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        },
        0,
    );
    let issuer = format!("http://127.0.0.1:{}", discovery.port);
    for (allow, reached) in [("127.0.0.1/32", 0), ("127.0.0.0/8", 1)] {
        let app = TestApp::spawn_with(db, &[("egress.allow", allow)]).await;
        let token = app.login().await;
        let doc = try_upload(&app, &token, &issuer).await.unwrap();
        let client = no_redirects();
        let url = format!("{}/{}?viewer=ann", app.gateway, doc.placeholder);
        let start = client.get(&url).send().await.unwrap();
        assert_eq!(start.status(), 303, "{allow}");
        let location = reqwest::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
        let state = location
            .query_pairs()
            .find(|(name, _)| name == "state")
            .unwrap()
            .1
            .into_owned();
        let cookies: Vec<String> = start
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        // The provider's answer, as a browser would bring it back.
        let callback = client
            .get(format!("{}/oauth/callback", app.gateway))
            .query(&[("code", "a-code"), ("state", state.as_str())])
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        assert_eq!(callback.status(), 502, "{allow}");
        assert_eq!(token_endpoint.count(), reached, "{allow}");
    }
}

/// Uploads a document whose OAuth challenge names `issuer`; `None` when the upload is refused
/// (422) by the challenge check.
async fn try_upload(app: &TestApp, token: &str, issuer: &str) -> Option<crate::gateway::Doc> {
    let form = crate::common::document_form("x.bin", b"x".to_vec())
        .text("audience", super::audience().to_string())
        .text(
            "challenge",
            oauth(issuer, literal("c"), literal("s")).to_string(),
        );
    let response = app.upload_form(token, form).await;
    if response.status() == 422 {
        return None;
    }
    assert_eq!(response.status(), 201, "{issuer}");
    let record: Value = response.json().await.unwrap();
    Some(crate::gateway::Doc {
        id: record["id"].as_str().unwrap().to_owned(),
        placeholder: crate::gateway::placeholder_id(&record),
    })
}

/// `VmHWM` (peak resident set) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn a_streaming_provider_costs_bounded_memory_once(db: Db) {
    let provider = Provider::start(STREAM, 400 << 20).await;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let url = db.fresh_database(&data_dir).await;
    // A generous timeout: the old code read the whole 400 MB within it.
    let env = [("SEALPOST__GATEWAY__OAUTH_TIMEOUT_SECS", "60")];
    let daemon = Daemon::try_start_with_env(&data_dir, &url, &env).unwrap();
    let auth = format!("Bearer {}", daemon.login().await);
    let issuer = format!("http://127.0.0.1:{}", provider.port);
    let form = crate::common::document_form("x.bin", b"x".to_vec())
        .text("audience", super::audience().to_string())
        .text(
            "challenge",
            oauth(&issuer, literal("c"), literal("s")).to_string(),
        );
    let client = no_redirects();
    let response = client
        .post(format!("http://{}/documents", daemon.api_addr))
        .header("Authorization", &auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    let placeholder = record["links"]["placeholder"]["href"].as_str().unwrap();
    let viewer_url = format!("{}?viewer=ann", placeholder.split('{').next().unwrap());

    let before = peak_rss_kib(daemon.pid());
    let response = client.get(&viewer_url).send().await.unwrap();
    assert_eq!(response.status(), 502);
    let after = peak_rss_kib(daemon.pid());
    println!("peak RSS before {before} KiB, after the 400 MB answer {after} KiB");
    assert!(
        after < 100 * 1024,
        "peak RSS {after} KiB (before: {before} KiB)"
    );
    assert_eq!(provider.count(), 1);

    // Within the failure cache's half minute, another viewer request fetches nothing.
    let response = client.get(&viewer_url).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        provider.count(),
        1,
        "the failed discovery was fetched again"
    );
}
