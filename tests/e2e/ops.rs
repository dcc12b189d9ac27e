//! Operating it (issue 18, items 2 and 3): `/healthz` and `/readyz` on every service, without
//! credentials and never audited; `/readyz` naming the database while it is unreachable (a TCP
//! proxy between the instance and PostgreSQL, cut and restored); `GET /metrics` on the admin
//! address only, accepted by `promtool check metrics` after a mixed workload whose counters
//! move exactly as the workload says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{audience, basic, create, field, harry, no_redirects, placeholder_id};

on_both_databases!(
    probes_answer_without_credentials_and_are_never_audited,
    metrics_count_a_mixed_workload_and_promtool_accepts_them,
    sealpost_up_serves_metrics_on_its_admin_addr,
);

/// The three services' base URLs.
fn services(app: &TestApp) -> [(&'static str, String); 3] {
    [
        ("api", app.api.clone()),
        ("gateway", app.gateway.clone()),
        ("vault", app.vault.clone()),
    ]
}

async fn log_rows(app: &TestApp) -> [i64; 3] {
    let url = app.settings.database_url();
    let mut counts = [0; 3];
    for (count, table) in counts
        .iter_mut()
        .zip(["api_log", "gateway_log", "vault_log"])
    {
        let query = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        *count = if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_scalar(query).fetch_one(&pool).await.unwrap()
        };
    }
    counts
}

/// Probes answer 200 on every service with no credential, `/readyz` listing its checks; none
/// leaves an audit record, while one unknown path per service (the control) leaves exactly one.
async fn probes_answer_without_credentials_and_are_never_audited(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let before = log_rows(&app).await;
    for (service, base) in services(&app) {
        for _ in 0..3 {
            let health = app
                .client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap();
            assert_eq!(health.status(), 200, "{service} /healthz");
            let ready = app
                .client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200, "{service} /readyz");
            let body: Value = ready.json().await.unwrap();
            assert_eq!(body["status"], "ready", "{service}: {body}");
            assert_eq!(body["checks"]["database"], "ok", "{service}: {body}");
            assert_eq!(body["checks"]["audit_writer"], "ok", "{service}: {body}");
        }
        let head = app
            .client
            .head(format!("{base}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "{service} HEAD /healthz");
        let control = app.client.get(format!("{base}/no-such-path")).send().await;
        assert_eq!(control.unwrap().status(), 404, "{service}");
    }
    let signed = app.client.get(format!("{}/healthz", app.api)).send().await;
    let signature = shared::content_signature::SIGNATURE_HEADER;
    assert!(
        signed.unwrap().headers().contains_key(signature),
        "API probes are signed"
    );
    healthcheck_command(&app).await;
    let ready: Value = (app.client.get(format!("{}/readyz", app.vault)).send().await)
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["object_store"], "ok", "{ready}");
    app.stop().await;
    let after = log_rows(&app).await;
    let added: Vec<i64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    // One control request per service, and the healthcheck command's 404 at the gateway.
    assert_eq!(added, [1, 2, 1], "api, gateway, vault log rows added");
}

/// `sealpost healthcheck URL` (the compose file's probe): exit 0 on 200, non-zero otherwise.
async fn healthcheck_command(app: &TestApp) {
    let run = |url: String| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
            .args(["healthcheck", &url])
            .output()
    };
    let ready = run(format!("{}/readyz", app.gateway)).await.unwrap();
    assert!(ready.status.success(), "{ready:?}");
    let missing = run(format!("{}/no-such-probe", app.gateway)).await.unwrap();
    assert!(!missing.status.success(), "{missing:?}");
}

/// A TCP proxy to `target` that can be cut (every connection dropped, new ones refused) and
/// restored.
struct Proxy {
    addr: std::net::SocketAddr,
    open: Arc<Mutex<bool>>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (open_flag, held) = (open.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !*open_flag.lock().unwrap() {
                    continue; // dropped: the connection is refused
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                held.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            addr,
            open,
            connections,
            accept: accept.abort_handle(),
        }
    }

    fn cut(&self) {
        *self.open.lock().unwrap() = false;
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        *self.open.lock().unwrap() = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// `postgres://user@host:port/db` with `host:port` replaced by `addr`; and the original
/// `host:port`.
fn through(url: &str, addr: std::net::SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    (
        format!("{scheme}://{user}@{addr}/{path}"),
        authority.to_owned(),
    )
}

async fn readyz(app: &TestApp, base: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// PostgreSQL only (an open SQLite file cannot be taken away from a running pool): `/readyz`
/// answers 503 naming the database on every service while the proxy to it is cut, and 200
/// again once it is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_database_while_it_is_unreachable() {
    let database = schema::testing::TestDatabase::create().await;
    let placeholder = "127.0.0.1:1".parse().unwrap();
    let (_, target) = through(database.url(), placeholder);
    let proxy = Proxy::start(target).await;
    let (proxied, _) = through(database.url(), proxy.addr);
    let mut app = TestApp::spawn_with(Db::Postgres, &[("database.url", &proxied)]).await;
    for (service, base) in services(&app) {
        assert_eq!(readyz(&app, &base).await.0, 200, "{service} before the cut");
    }
    proxy.cut();
    for (service, base) in services(&app) {
        let (status, body) = readyz(&app, &base).await;
        assert_eq!(status, 503, "{service}: {body}");
        assert_eq!(body["status"], "unavailable", "{service}: {body}");
        assert!(
            (body["failing"].as_array().unwrap()).contains(&Value::from("database")),
            "{service}: {body}"
        );
        assert_ne!(body["checks"]["database"], "ok", "{service}: {body}");
    }
    proxy.restore();
    for (service, base) in services(&app) {
        let mut last = (0, Value::Null);
        for _ in 0..60 {
            last = readyz(&app, &base).await;
            if last.0 == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(last.0, 200, "{service} after the restore: {}", last.1);
    }
    app.stop().await;
    drop(database);
}

/// The value of the series of `name` whose labels include every `labels` pair (0 when absent).
fn value(scrape: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut total = 0.0;
    for line in scrape.lines().filter(|line| !line.starts_with('#')) {
        let (series, number) = line.rsplit_once(' ').unwrap();
        let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
        let wanted = labels
            .iter()
            .all(|(key, value)| series_labels.contains(&format!("{key}=\"{value}\"")));
        if series_name == name && wanted {
            total += number.parse::<f64>().unwrap();
        }
    }
    total
}

async fn scrape(app: &TestApp) -> String {
    let admin = app.instance.as_ref().unwrap().admin_addr.unwrap();
    let response = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let media = response.headers()["content-type"].to_str().unwrap();
    assert!(media.starts_with("text/plain; version=0.0.4"), "{media}");
    response.text().await.unwrap()
}

/// `promtool check metrics` (Debian's `prometheus` package) on `text`: its verdict.
fn promtool(text: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus; scripts/test does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

const UPLOADS: &[(&str, &str)] = &[
    ("route", "/documents"),
    ("method", "POST"),
    ("status", "201"),
    ("service", "api"),
];

/// Uploads, gateway requests, handle downloads, a passed and five failed challenges (the fifth
/// locks): the counters move by exactly that, and promtool accepts the scrape. `/metrics` is
/// never on a public port.
async fn metrics_count_a_mixed_workload_and_promtool_accepts_them(db: Db) {
    let app = TestApp::spawn(db).await;
    for (service, base) in services(&app) {
        let public = app
            .client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(public.status(), 404, "{service} serves no /metrics");
    }
    let token = app.login().await;
    let before = scrape(&app).await;
    let plain: Vec<Value> = vec![
        app.upload(&token, "a.pdf", b"first".to_vec()).await,
        app.upload(&token, "b.pdf", b"second".to_vec()).await,
    ];
    let challenged = ("challenge", basic(field("code")));
    let guarded = create(
        &app,
        &token,
        b"guarded",
        &[("audience", audience()), challenged],
    )
    .await;
    let (uploads, client) = (3.0, no_redirects());
    for record in &plain {
        let url = format!("{}/{}", app.gateway, placeholder_id(record));
        crate::gateway::fetch_handle(client.get(url).send().await.unwrap()).await;
    }
    let passed = client
        .get(harry(&app, &guarded))
        .basic_auth("", Some("tiger"));
    assert_eq!(
        crate::gateway::fetch_handle(passed.send().await.unwrap()).await,
        b"guarded"
    );
    let handles = 3.0;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let wrong = client
            .get(harry(&app, &guarded))
            .basic_auth("", Some("wrong"));
        statuses.push(wrong.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    let after = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(delta("sealpost_http_requests_total", UPLOADS), uploads);
    assert_eq!(delta("sealpost_handles_minted_total", &[]), handles);
    assert_eq!(delta("sealpost_challenges_failed_total", &[]), 5.0);
    assert_eq!(delta("sealpost_lockouts_total", &[]), 1.0);
    let gateway_401 = [("service", "gateway"), ("status", "401")];
    assert_eq!(delta("sealpost_http_requests_total", &gateway_401), 4.0);
    let written = [("log", "gateway")];
    assert!(delta("sealpost_audit_records_written_total", &written) >= 8.0);
    if !crate::wiring::split() {
        // The vault counts into the instance's registry only when it runs inside it.
        let vault = [("service", "vault")];
        assert!(delta("sealpost_http_response_bytes_total", &vault) >= 18.0);
    }
    assert!(
        value(
            &after,
            "sealpost_group_commit_batch_size_count",
            &[("log", "api")]
        ) >= 1.0
    );
    for family in [
        "sealpost_http_request_duration_seconds",
        "sealpost_db_pool_connections",
    ] {
        assert!(after.contains(&format!("# TYPE {family}")), "{family}");
    }
    assert!(
        !after.contains(&plain[0]["id"].as_str().unwrap()[..8]),
        "no raw id in a label"
    );
    let checked = promtool(&after);
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// `sealpost up --admin-addr 127.0.0.1:0`: the banner names the admin address, which serves
/// `/metrics` (the API's own requests counted under `service="api"`).
async fn sealpost_up_serves_metrics_on_its_admin_addr(db: Db) {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let database = db.fresh_database(dir.path()).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
        .args(["up", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--api-addr", "127.0.0.1:0", "--gateway-addr", "127.0.0.1:0"])
        .args(["--vault-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .env("SEALPOST__DATABASE__URL", &*database)
        .env("SEALPOST__WORKERS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api, mut metrics) = (None, None);
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(url) = line.strip_prefix("API server: ") {
            api = Some(url.trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("Metrics:") {
            metrics = Some(url.trim().to_owned());
            break;
        }
    }
    let (api, metrics) = (api.unwrap(), metrics.unwrap());
    assert!(metrics.starts_with("http://127.0.0.1:"), "{metrics}");
    let ready = reqwest::get(format!("{api}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let scrape = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
    let probes = [("service", "api"), ("route", "/readyz"), ("status", "200")];
    assert_eq!(value(&scrape, "sealpost_http_requests_total", &probes), 1.0);
    child.kill().await.unwrap();
}
