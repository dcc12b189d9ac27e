//! TLS built in (issue 18, item 1): HTTPS with a test CA made by `openssl`, for curl,
//! python-requests and reqwest; TLS 1.2 and 1.3 only; HSTS on HTTPS answers and not on plain
//! ones; `https` links and handles; plain HTTP refused on a non-loopback address. The
//! certificate reload on SIGHUP is in [`reload`].

mod fixture;
mod reload;

use std::net::SocketAddr;
use std::process::Command;

use crate::common::{Db, TestApp, document_form};
use fixture::{Pki, s_client};

crate::common::on_both_databases!(
    https_with_the_ca_and_only_with_it,
    https_answers_carry_hsts_and_https_links,
    plain_http_answers_carry_no_hsts,
    the_connection_cap_holds_over_https,
);

/// An instance serving HTTPS with a certificate of `pki` (in the split wiring, the API server
/// reaches its vault over HTTPS trusting the same CA).
async fn spawn_tls(db: Db, pki: &Pki) -> TestApp {
    let (cert, key) = pki.issue("server", "sealpost-test");
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        pki.ca().display().to_string(),
    );
    let extra = [
        ("tls.cert_file", cert.as_str()),
        ("tls.key_file", key.as_str()),
        ("vault.internal_ca_file", ca.as_str()),
    ];
    TestApp::spawn_with(db, &extra).await
}

fn addr_of(base: &str) -> SocketAddr {
    base.split_once("://").unwrap().1.parse().unwrap()
}

/// `curl` fetching `url`: its exit status and the HTTP status it printed.
fn curl(url: &str, ca: Option<&std::path::Path>) -> (bool, String) {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("CURL_CA_BUNDLE");
    if let Some(ca) = ca {
        command.arg("--cacert").arg(ca);
    }
    let output = command.arg(url).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// python-requests fetching `url`, `verify=ca` when given (else its default trust store).
fn python_requests(url: &str, ca: Option<&std::path::Path>) -> std::process::Output {
    let script = "import sys, requests\n\
                  verify = sys.argv[2] if len(sys.argv) > 2 else True\n\
                  print(requests.get(sys.argv[1], verify=verify, timeout=30).status_code)\n";
    let mut command = Command::new("python3");
    command
        .args(["-c", script, url])
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .env_remove("CURL_CA_BUNDLE");
    if let Some(ca) = ca {
        command.arg(ca);
    }
    command.output().unwrap()
}

async fn https_with_the_ca_and_only_with_it(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let app = spawn_tls(db, &pki).await;
    assert!(app.api.starts_with("https://"), "{}", app.api);
    let keys = app.url("/.well-known/sealpost-keys");

    assert_eq!(curl(&keys, Some(&pki.ca())), (true, "200".to_owned()));
    let (ok, _) = curl(&keys, None);
    assert!(!ok, "curl trusted a certificate of an unknown CA");

    let output = python_requests(&keys, Some(&pki.ca()));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "200");
    let output = python_requests(&keys, None);
    assert!(!output.status.success(), "requests trusted an unknown CA");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("SSLError"),
        "{output:?}"
    );

    let trusting = pki.client().get(&keys).send().await.unwrap();
    assert_eq!(trusting.status(), 200);
    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::new())
        .build()
        .unwrap();
    assert!(untrusting.get(&keys).send().await.is_err());

    // TLS 1.2 and 1.3 are served; TLS 1.1 is refused by the server (the client is allowed to
    // offer it: OpenSSL's own default would refuse it before asking).
    for service in [&app.api, &app.gateway, &app.vault] {
        let addr = addr_of(service);
        for version in ["-tls1_2", "-tls1_3"] {
            let output = s_client(addr, &pki.ca(), &[version]);
            let text = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{version} {output:?}");
            assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        }
        let output = s_client(
            addr,
            &pki.ca(),
            &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "TLS 1.1 accepted: {output:?}");
        assert!(
            !stderr.contains("no protocols available"),
            "the client never offered TLS 1.1: {stderr}"
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("no peer certificate available"),
            "{output:?}"
        );
    }
    drop(app);
}

fn hsts(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("strict-transport-security")
        .map(|value| value.to_str().unwrap().to_owned())
}

async fn https_answers_carry_hsts_and_https_links(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let mut app = spawn_tls(db, &pki).await;
    let client = pki.client();
    let expected = Some(shared::tls::HSTS.to_owned());
    let login = reqwest::multipart::Form::new()
        .text("key", app.default_key())
        .text("email", "ops@example.com");
    let response = client
        .post(app.url("/login"))
        .multipart(login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hsts(&response), expected, "login answer");
    let token = response.headers()["authorization"]
        .to_str()
        .unwrap()
        .to_owned();

    let content = crate::common::pseudo_random(100_000, 7);
    let response = client
        .post(app.url("/documents"))
        .bearer_auth(&token)
        .multipart(document_form("report.pdf", content.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(hsts(&response), expected, "API answer");
    let record: serde_json::Value = response.json().await.unwrap();
    let links = record["links"].as_object().unwrap();
    for (name, link) in links {
        let href = link["href"].as_str().unwrap();
        assert!(href.starts_with("https://"), "link {name}: {href}");
    }
    let refused = client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(hsts(&refused), expected, "an API error answer");

    // The gateway hands out an https handle; the vault's answer carries HSTS too.
    let placeholder = crate::gateway::placeholder_id(&record);
    let request = format!("{}/{placeholder}", app.gateway);
    let response = client.get(&request).send().await.unwrap();
    assert_eq!(response.status(), 303, "{:?}", response.headers());
    assert_eq!(hsts(&response), expected, "gateway answer");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/h/", app.vault)) && location.starts_with("https://"),
        "{location}"
    );
    let download = client.get(&location).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(hsts(&download), expected, "vault handle download");
    assert_eq!(download.bytes().await.unwrap().to_vec(), content);
    let missing = client
        .get(format!("{}/nowhere", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(hsts(&missing), expected, "a gateway refusal");
    app.stop().await;
}

async fn plain_http_answers_carry_no_hsts(db: Db) {
    let mut app = TestApp::spawn(db).await;
    assert!(app.api.starts_with("http://"));
    let token = app.login().await;
    let record = app.upload(&token, "plain.pdf", b"plain".to_vec()).await;
    let href = record["links"]["self"]["href"].as_str().unwrap();
    assert!(href.starts_with("http://"), "{href}");
    let api = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(hsts(&api), None);
    let handle = app.handle_url(record["id"].as_str().unwrap(), 60).await;
    let download = app.client.get(&handle).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(hsts(&download), None);
    let gateway = app
        .client
        .get(format!("{}/nowhere", app.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(hsts(&gateway), None);
    app.stop().await;
}

/// The per-address connection cap counts TLS connections too (the `on_connect` hook finds the
/// TCP socket under the TLS stream): one address holding its cap gets no more, another does.
async fn the_connection_cap_holds_over_https(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let (cert, key) = pki.issue("server", "sealpost-test");
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let ca = pki.ca().display().to_string();
    let extra = [
        ("tls.cert_file", cert.as_str()),
        ("tls.key_file", key.as_str()),
        ("vault.internal_ca_file", ca.as_str()),
        ("server.max_connections_per_address", "2"),
        ("server.header_timeout_secs", "60"),
        ("server.keep_alive_secs", "60"),
    ];
    let mut app = TestApp::spawn_with(db, &extra).await;
    let keys = app.url("/.well-known/sealpost-keys");
    // Two kept-alive HTTPS connections from 127.0.0.1 (two clients: one pool each).
    let mut held = Vec::new();
    for _ in 0..2 {
        let client = pki.client();
        assert_eq!(client.get(&keys).send().await.unwrap().status(), 200);
        held.push(client);
    }
    let over = pki.client().get(&keys).send().await;
    assert!(
        over.is_err(),
        "a connection over the cap was served: {over:?}"
    );
    let other = reqwest::Client::builder()
        .tls_certs_only(pki.roots())
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    assert_eq!(other.get(&keys).send().await.unwrap().status(), 200);
    // The held connections still serve.
    for client in &held {
        assert_eq!(client.get(&keys).send().await.unwrap().status(), 200);
    }
    drop(held);
    app.stop().await;
}

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// `sealpost up` with the API on every address and no TLS: refused in one line naming the
/// setting, exit status non-zero; with `tls.allow_plain_http` it starts.
#[test]
fn plain_http_on_a_public_address_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let up = |allow: &str| {
        let data_dir = dir.path().join(format!("data-{allow}"));
        Command::new(BINARY)
            .args(["up", "--data-dir"])
            .arg(&data_dir)
            .args(["--api-addr", "0.0.0.0:0", "--gateway-addr", "127.0.0.1:0"])
            .args(["--vault-addr", "127.0.0.1:0"])
            .env("SEALPOST__DATABASE__URL", crate::cli::sqlite_url(&data_dir))
            .env("SEALPOST__ADMIN__ADDR", "127.0.0.1:0")
            .env("SEALPOST__TLS__ALLOW_PLAIN_HTTP", allow)
            .env("SEALPOST__WORKERS", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = up("false").wait_with_output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("plain HTTP"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("0.0.0.0:"), "{}", lines[0]);
    assert!(
        lines[0].contains("tls.allow_plain_http = true"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("--tls-cert"), "{}", lines[0]);
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("API server:"));

    let mut allowed = up("true");
    let stdout = allowed.stdout.take().unwrap();
    let started = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|line| line.starts_with("API server: http://0.0.0.0:"));
    let _ = allowed.kill();
    let _ = allowed.wait();
    assert!(started, "did not start with tls.allow_plain_http = true");
}

/// The vault's service token never goes in clear to another host: `sealpost up` with an
/// `http://` internal URL that is not loopback refuses to start, in one line naming the fix.
#[test]
fn an_http_internal_url_to_another_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let output = Command::new(BINARY)
        .args(["up", "--data-dir"])
        .arg(&data_dir)
        .env("SEALPOST__DATABASE__URL", crate::cli::sqlite_url(&data_dir))
        .env("SEALPOST__ADMIN__ADDR", "127.0.0.1:0")
        .env("SEALPOST__VAULT__INTERNAL_URL", "http://vault.invalid:8082")
        .env("SEALPOST__VAULT__SERVICE_TOKEN", "x".repeat(43))
        .args(["--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|line| line.contains("refusing vault.internal_url"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("https://") && line.contains("vault.internal_ca_file"),
        "{line}"
    );
}
