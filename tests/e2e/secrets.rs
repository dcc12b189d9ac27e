//! The suite-wide secret grep (issue 7, "nothing secret"): what the harness records and dumps,
//! and the end-to-end self-test of `scripts/secret-grep`.
//!
//! Every [`TestApp`] records the secrets it hands out or learns of into a per-process registry,
//! `target/tmp/secret-grep/secrets-PID.tsv` (`kind<TAB>value`): login tokens
//! ([`TestApp::login_with`]), handles ([`TestApp::handle_url`]) and, when the instance stops or
//! is dropped, every audience-record value (viewer-token values, Basic/Digest passwords, OAuth
//! client secrets held in records), every literal of a challenge (passwords, client secrets) and
//! every password/secret/token field of a fulfillment, read from the instance's database, and
//! the password of the instance's configured SMTP URL.
//! Secrets the tests receive from the services without the harness seeing them (handles in a
//! `Location`, sealed links from `POST …/links`, tokens read from a login response) are found by
//! their shape in the dumped lines themselves and confirmed with the instance's own keys: a
//! run that verifies as a handle signed by the gateway key, opens as a sealed link with the
//! gateway's seal keys, or parses as a JWT is recorded as a secret too, so the checker reports it.
//!
//! At the same moment the instance's three audit logs (every line, every producer) are written
//! to `target/tmp/secret-grep/logs/`, and the process's tracing output (the services' own log,
//! at the operators' default filter) goes to a file there from the first spawn on.
//! `scripts/secret-grep`, run by `scripts/test` after both passes, greps every dumped file for
//! every recorded secret, fails naming file, line and kind, and refuses to pass on an empty or
//! too small registry or dump.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use sqlx::Row as _;

use shared::config::Settings;

use crate::common::{Db, TestApp};

/// Values shorter than this are not recorded: too likely to match innocently.
pub const MIN_SECRET_LEN: usize = 8;

/// The suite's secret-grep directory (`target/tmp/secret-grep`).
pub fn suite_dir() -> PathBuf {
    std::env::var_os("SEALPOST_SECRET_GREP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("secret-grep"))
}

/// Appends `value` under `kind` to this process's registry in `dir` (short values are skipped).
pub fn record_in(dir: &Path, kind: &str, value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_LEN || value.contains(['\t', '\n', '\r']) {
        return;
    }
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("secrets-{}.tsv", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(format!("{kind}\t{value}\n").as_bytes())
        .unwrap();
}

/// [`record_in`] the suite's directory.
pub fn record(kind: &str, value: &str) {
    record_in(&suite_dir(), kind, value);
}

/// Sends this process's tracing output (the services' log, at the operators' default filter)
/// to `logs/trace-PID-TEST.log`; once per process, before the first instance starts.
pub fn capture_tracing(filter: &str) {
    TRACE_FILE.get_or_init(|| {
        let logs = suite_dir().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let path = logs.join(format!("trace-{}-{}.log", std::process::id(), test_name()));
        let file = std::fs::File::create(&path).unwrap();
        let _already_set = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init();
        path
    });
}

/// This process's tracing file, once [`capture_tracing`] made it.
static TRACE_FILE: OnceLock<PathBuf> = OnceLock::new();

/// The last `ERROR` and `WARN` lines of this process's tracing output, for a failing test's
/// stderr: a bare 500 in a CI log otherwise says nothing of its cause. The same file is in the
/// secret grep, so what is printed holds no recorded secret either.
pub fn print_server_complaints() {
    const LINES: usize = 20;
    let Some(text) = TRACE_FILE
        .get()
        .and_then(|p| std::fs::read_to_string(p).ok())
    else {
        return;
    };
    let complaints: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(" ERROR ") || line.contains(" WARN "))
        .collect();
    let shown = &complaints[complaints.len().saturating_sub(LINES)..];
    if !shown.is_empty() {
        eprintln!("the services' last {} complaints:", shown.len());
        for line in shown {
            eprintln!("  {line}");
        }
    }
}

/// The running test's name, fit for a file name.
pub fn test_name() -> String {
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned();
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Dumps the instance's three audit logs into `dir/logs/` and records the secrets its database
/// and logs reveal (see the module doc). `tag` names the files.
pub async fn dump(settings: &Settings, test: &str, dir: &Path, tag: &str) {
    let url = settings.database_url();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for table in ["api_log", "gateway_log", "vault_log"] {
        let lines = column_text(&url, &format!("SELECT fields FROM {table} ORDER BY seq")).await;
        let mut text = String::new();
        for line in lines.iter().flatten() {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(logs.join(format!("{tag}-{table}.log")), &text).unwrap();
        record_shapes(&settings.data_dir, dir, &text);
    }
    let trace = logs.join(format!("trace-{}-{test}.log", std::process::id()));
    if let Ok(text) = std::fs::read_to_string(trace) {
        record_shapes(&settings.data_dir, dir, &text);
    }
    // The instance's own SMTP URL (`delivery.smtp_url`): its password, when it has one.
    let smtp = secrecy::ExposeSecret::expose_secret(&settings.delivery.smtp_url).to_owned();
    if let Some((credentials, _)) = smtp
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        && let Some((_, password)) = credentials.split_once(':')
    {
        record_in(dir, "smtp password", password);
    }
    // The columns are stored sealed (issue 14, finding 8): opened with the instance's record
    // keys, bound to their document id.
    let record_keys = shared::record_keys::load_or_create(
        &settings
            .data_dir
            .join(shared::record_keys::RECORD_KEYS_FILE),
    )
    .ok();
    for column in ["audience", "challenge", "fulfillment"] {
        let sql = format!("SELECT id || ' ' || CAST({column} AS TEXT) FROM documents");
        for row in column_text(&url, &sql).await.into_iter().flatten() {
            let Some((id, stored)) = row.split_once(' ') else {
                continue;
            };
            let json = match &record_keys {
                Some(keys) if schema::cipher::is_sealed(stored) => {
                    let Ok(plain) = keys.open(id, column, stored) else {
                        continue;
                    };
                    String::from_utf8_lossy(&plain).into_owned()
                }
                _ => stored.to_owned(),
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&json) else {
                continue;
            };
            let mut found = Vec::new();
            secret_leaves(&value, column == "audience", &mut found);
            for secret in found {
                record_in(dir, &format!("{column} value"), &secret);
            }
        }
    }
}

/// The string leaves of `value` that are secrets: all of them (`all`, audience records), or
/// else those under a `value` key (a challenge's literals) or a key naming a password, secret
/// or token.
fn secret_leaves(value: &serde_json::Value, all: bool, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if all => out.push(text.clone()),
        serde_json::Value::Array(items) => {
            for item in items {
                secret_leaves(item, all, out);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                let key = key.to_ascii_lowercase();
                let secret_key = key == "value"
                    || ["password", "secret", "token", "pass"]
                        .iter()
                        .any(|word| key.contains(word));
                match item {
                    serde_json::Value::String(text) if secret_key || all => {
                        out.push(text.clone());
                    }
                    _ => secret_leaves(item, all, out),
                }
            }
        }
        _ => {}
    }
}

/// Records every handle, sealed link and JWT found by its shape in `text` (confirmed with the
/// instance's keys for handles and seals).
fn record_shapes(data_dir: &Path, dir: &Path, text: &str) {
    let key_file = data_dir.join(sealpost::instance::GATEWAY_KEY_FILE);
    let seal_file = data_dir.join(shared::sealed::SEAL_KEYS_FILE);
    if !key_file.exists() {
        return;
    }
    let Ok(key) = shared::keys::SigningKey::load_or_create(&key_file) else {
        return;
    };
    let verifier = shared::handle::HandleSigner::new(key).verifier();
    let seals = seal_file
        .exists()
        .then(|| shared::sealed::SealKeys::load_or_create(&seal_file).ok())
        .flatten();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for run in text.split(|c: char| !(is_b64(c) || c == '.')) {
        let parts: Vec<&str> = run.split('.').collect();
        if parts.len() == 3 && parts[0].starts_with("eyJ") && parts.iter().all(|p| p.len() >= 8) {
            record_in(dir, "login token (found by shape)", run);
        }
        for part in parts {
            if part.len() == shared::handle::HANDLE_LEN {
                match verifier.verify(part, chrono::Utc::now()) {
                    Ok(_) | Err(shared::handle::HandleError::Expired(_)) => {
                        record_in(dir, "handle (found by signature)", part);
                    }
                    Err(_) => {}
                }
            }
            if part.len() >= 40
                && seals
                    .as_ref()
                    .is_some_and(|seals| seals.open(part).is_some())
            {
                record_in(dir, "sealed link (found by key)", part);
            }
        }
    }
}

/// The first column of every row `sql` returns, as text; nothing (and a note on stderr) when the
/// database cannot be read (a test that broke it on purpose): the checker's minimum counts keep
/// such gaps from making the grep pass on nothing.
async fn column_text(url: &str, sql: &str) -> Vec<Option<String>> {
    let result: Result<Vec<Option<String>>, sqlx::Error> = async {
        let query = || sqlx::AssertSqlSafe(sql.to_owned());
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await?;
            let rows = sqlx::query(query()).fetch_all(&pool).await;
            pool.close().await;
            rows?.iter().map(|row| row.try_get(0)).collect()
        } else {
            let pool = sqlx::PgPool::connect(url).await?;
            let rows = sqlx::query(query()).fetch_all(&pool).await;
            pool.close().await;
            rows?.iter().map(|row| row.try_get(0)).collect()
        }
    }
    .await;
    result.unwrap_or_else(|error| {
        eprintln!("secret grep: could not read {sql:?}: {error}");
        Vec::new()
    })
}

/// A fresh file tag for this process (`TEST-PID-N`).
pub fn next_tag(test: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{test}-{}-{n}", std::process::id())
}

fn checker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/secret-grep")
}

crate::common::on_both_databases!(
    the_checker_catches_a_secret_planted_in_a_real_log,
    handles_seals_and_tokens_in_a_log_are_found_by_shape,
);

/// End to end: a secret marker sent in a request path lands in the API log; dumped into a
/// private directory, the checker finds it (file, line and kind, never the whole value), and
/// passes once the marker is no longer registered as a secret.
async fn the_checker_catches_a_secret_planted_in_a_real_log(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let planted = format!("planted{}", crate::common::sha1_hex(&rand_bytes()));
    let response = app
        .get(&token, &format!("/no-such-route/{planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    app.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("secret-grep");
    dump(&app.settings, &app.secret_grep_test, &private, "selftest").await;
    record_in(&private, "planted marker", &planted);
    let output = std::process::Command::new(checker())
        .arg(&private)
        .args(["--min-secrets", "1", "--min-lines", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("selftest-api_log.log:") && stderr.contains("planted marker"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&planted) && !stdout.contains(&planted),
        "{stderr}"
    );

    // Without the marker in the registry, the same dump is clean.
    let registry = private.join(format!("secrets-{}.tsv", std::process::id()));
    let kept: String = std::fs::read_to_string(&registry)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("planted marker\t"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(
        &registry,
        format!("{kept}planted marker\tnot-in-any-log-0123\n"),
    )
    .unwrap();
    let output = std::process::Command::new(checker())
        .arg(&private)
        .args(["--min-secrets", "1", "--min-lines", "1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Secrets the harness never saw (a handle, a sealed link, a login token) written into a log
/// are recognised at dump time with the instance's keys, recorded, and reported by the checker.
async fn handles_seals_and_tokens_in_a_log_are_found_by_shape(db: Db) {
    let smtp = (
        "delivery.smtp_url",
        "smtp://mailer:smtp-pass-0123456789@127.0.0.1:9",
    );
    let mut app = TestApp::spawn_with(db, &[smtp]).await;
    let token = app.login().await;
    let token = token.split(' ').next_back().unwrap().to_owned();
    app.stop().await;
    let handle = app.gateway_signer().sign(&shared::handle::HandleClaims {
        object: schema::ObjectKey::random(),
        document: schema::DocumentId::random(),
        access_version: 0,
        viewer: shared::handle::ViewerRef::default(),
        expires_at: chrono::Utc::now() - chrono::Duration::seconds(5),
        nonce: shared::handle::Nonce::random(),
    });
    let seals = shared::sealed::SealKeys::load_or_create(
        &app.data_dir().join(shared::sealed::SEAL_KEYS_FILE),
    )
    .unwrap();
    let sealed = seals
        .seal(&shared::sealed::SealedLink {
            placeholder: "p".repeat(22),
            viewer_token: vec![("email".into(), "ann@example.com".into())],
        })
        .unwrap();
    // Written after `stop` dumped the suite's copy: only the private dump below holds it.
    app.repo()
        .await
        .append_api_log(&[schema::ApiLogRecord {
            producer_id: None,
            document_id: None,
            time: chrono::Utc::now(),
            head: format!("-\t-\t-\t-\tGET\t/h/{handle}/l/{sealed}?t={token}\t404"),
            tail: "-".into(),
        }])
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("secret-grep");
    dump(&app.settings, &app.secret_grep_test, &private, "shapes").await;
    let output = std::process::Command::new(checker())
        .arg(&private)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for kind in [
        "a handle (found by signature) in a log",
        "a sealed link (found by key) in a log",
        "a login token (found by shape) in a log",
    ] {
        assert!(stderr.contains(kind), "{kind}: {stderr}");
    }
    for secret in [&handle, &sealed, &token] {
        assert!(!stderr.contains(secret.as_str()), "{stderr}");
    }
    // The configured SMTP URL's password is recorded too.
    let registry = private.join(format!("secrets-{}.tsv", std::process::id()));
    let registry = std::fs::read_to_string(registry).unwrap();
    assert!(
        registry.contains("smtp password\tsmtp-pass-0123456789\n"),
        "{registry}"
    );
}

fn rand_bytes() -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos}-{}", std::process::id()).into_bytes()
}
