//! The certificate reload: `sealpost up` serving HTTPS gets a new certificate on disk and a
//! SIGHUP; the next connection is served the new one while a download started before the swap
//! completes; a bad file keeps the current certificate and logs one error line.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fixture::{Pki, served_subject};
use crate::common::{Db, document_form, pseudo_random, sha1_hex};

crate::common::on_both_databases!(sighup_serves_the_new_certificate_to_new_connections_only);

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// `sealpost up` with `--tls-cert`/`--tls-key`, and the addresses it printed.
struct TlsDaemon {
    child: Child,
    api: SocketAddr,
    gateway: SocketAddr,
    stderr: PathBuf,
}

impl TlsDaemon {
    fn start(data_dir: &Path, database_url: &str, cert: &Path, key: &Path) -> Self {
        let stderr = data_dir.with_extension("stderr");
        let mut child = Command::new(BINARY)
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0"])
            .args(["--vault-addr", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("SEALPOST__DATABASE__URL", database_url)
            .env("SEALPOST__ADMIN__ADDR", "127.0.0.1:0")
            .env("SEALPOST__WORKERS", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut api, mut gateway) = (None, None);
        for line in lines.by_ref().map_while(Result::ok) {
            let addr = |prefix: &str| {
                let rest = line.strip_prefix(prefix)?.trim_start();
                rest.strip_prefix("https://")?.parse::<SocketAddr>().ok()
            };
            api = api.or(addr("API server:"));
            gateway = gateway.or(addr("Gateway:"));
            if line.starts_with("Vault:") {
                break;
            }
        }
        // Whatever it prints later must not meet a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            api: api.expect("no https API address printed"),
            gateway: gateway.expect("no https gateway address printed"),
            stderr,
        }
    }

    fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for TlsDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces `target` with `source` atomically (as a deployment tool would).
fn swap_in(source: &Path, target: &Path) {
    let staged = target.with_extension("new");
    std::fs::copy(source, &staged).unwrap();
    std::fs::rename(&staged, target).unwrap();
}

/// Waits until `check` holds, for at most 20 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn sighup_serves_the_new_certificate_to_new_connections_only(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let database = db.fresh_database(&data_dir).await;
    let pki = Pki::new(&dir.path().join("pki"));
    let (first_cert, first_key) = pki.issue("first", "sealpost-first");
    let (second_cert, second_key) = pki.issue("second", "sealpost-second");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    swap_in(&first_cert, &cert);
    swap_in(&first_key, &key);
    let daemon = TlsDaemon::start(&data_dir, &database, &cert, &key);
    assert!(served_subject(daemon.api, &pki.ca()).contains("sealpost-first"));

    // A document large enough that its download is still under way across the swap.
    let client = pki.client();
    let producer_key = std::fs::read_to_string(data_dir.join("producer-default.pem")).unwrap();
    let login = reqwest::multipart::Form::new()
        .text("key", producer_key)
        .text("email", "ops@example.com");
    let api = format!("https://{}", daemon.api);
    let response = client
        .post(format!("{api}/login"))
        .multipart(login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let content = pseudo_random(24 << 20, 11);
    let response = client
        .post(format!("{api}/documents"))
        .bearer_auth(&token)
        .multipart(document_form("big.pdf", content.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: serde_json::Value = response.json().await.unwrap();
    let placeholder = crate::gateway::placeholder_id(&record);
    let response = client
        .get(format!("https://{}/{placeholder}", daemon.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let handle = response.headers()["location"].to_str().unwrap().to_owned();

    // The download starts on the first certificate and reads one chunk.
    let mut download = client.get(&handle).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let mut received = download.chunk().await.unwrap().unwrap().to_vec();

    swap_in(&second_cert, &cert);
    swap_in(&second_key, &key);
    daemon.hang_up();
    eventually("the new certificate on a new connection", || {
        served_subject(daemon.api, &pki.ca()).contains("sealpost-second")
    });
    // Every service reloaded: the vault and the gateway serve it too.
    let vault: SocketAddr = handle
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    eventually("the vault's new certificate", || {
        served_subject(vault, &pki.ca()).contains("sealpost-second")
    });
    assert!(served_subject(daemon.gateway, &pki.ca()).contains("sealpost-second"));

    // The download begun before the swap completes, read slowly; much of it was still to be
    // sent (more than the sockets' buffers hold) when the certificate changed.
    let at_swap = received.len();
    let mut chunks = 0_u32;
    while let Some(chunk) = download.chunk().await.unwrap() {
        received.extend_from_slice(&chunk);
        chunks += 1;
        if chunks.is_multiple_of(64) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(received.len(), content.len());
    assert!(
        received.len() - at_swap > 4 << 20,
        "read {at_swap} before the swap"
    );
    assert_eq!(sha1_hex(&received), sha1_hex(&content));

    // A file that does not load: the current certificate stays, and one error line says so
    // (the three services share one resolver: one read, one line).
    std::fs::write(&cert, "not a certificate\n").unwrap();
    daemon.hang_up();
    let failures = || {
        daemon
            .stderr()
            .matches("TLS certificate reload failed")
            .count()
    };
    eventually("the reload error line", || failures() > 0);
    assert!(served_subject(daemon.api, &pki.ca()).contains("sealpost-second"));
    assert!(served_subject(vault, &pki.ca()).contains("sealpost-second"));
    assert_eq!(failures(), 1, "{}", daemon.stderr());
    assert_eq!(
        daemon.stderr().matches("TLS certificate reloaded").count(),
        1,
        "one reload for the three services"
    );
    let response = client
        .get(format!("{api}/.well-known/sealpost-keys"))
        .send()
        .await;
    assert_eq!(response.unwrap().status(), 200);
    drop(daemon);
    drop(database);
}
