//! The services' own diagnostics (issue 18, item 6): `telemetry.format = "json"` writes one
//! JSON object a line with the same redaction as plain text, plain text written to a file
//! carries no ANSI colour codes, and an unknown format is refused at start-up. The traffic and
//! the secret check are shared with `cli::the_servers_own_log_carries_no_secret`.

use crate::cli::{Daemon, sqlite_url, stderr_path};

/// Secrets a request carries that must never reach the daemon's log, whatever its format.
pub(crate) struct Traffic {
    token: String,
    key_body: String,
}

const QUERY_SECRET: &str = "viewer-secret-value";
const CONTENT_SECRET: &str = "secret-content";

/// A login, an upload and a refused request carrying a secret in its query string.
pub(crate) async fn traffic(daemon: &Daemon) -> Traffic {
    let token = daemon.login().await;
    let client = reqwest::Client::new();
    let api = format!("http://{}", daemon.api_addr);
    let form = reqwest::multipart::Form::new().part(
        "document",
        reqwest::multipart::Part::bytes(CONTENT_SECRET.as_bytes().to_vec()).file_name("n.txt"),
    );
    let response = client
        .post(format!("{api}/documents"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let response = client
        .get(format!("{api}/documents?after={QUERY_SECRET}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let key = std::fs::read_to_string(daemon.key_path()).unwrap();
    let key_body = key.lines().nth(1).unwrap().to_owned();
    Traffic { token, key_body }
}

pub(crate) fn assert_no_secret(log: &str, traffic: &Traffic) {
    for secret in [
        traffic.token.as_str(),
        traffic.key_body.as_str(),
        QUERY_SECRET,
        CONTENT_SECRET,
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} leaked into the log:\n{log}"
        );
    }
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_same_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let daemon = Daemon::try_start_with_env(
        &data_dir,
        &sqlite_url(&data_dir),
        &[("SEALPOST__TELEMETRY__FORMAT", "json")],
    )
    .unwrap();
    let traffic = traffic(&daemon).await;
    assert!(daemon.terminate().success());
    let log = std::fs::read_to_string(stderr_path(&data_dir)).unwrap();
    let mut upload_traced = false;
    for line in log.lines() {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not one JSON object a line ({error}): {line:?}"));
        assert!(object.is_object(), "not an object: {line:?}");
        assert!(object["level"].is_string() && object["timestamp"].is_string());
        upload_traced |= line.contains("POST /documents 201");
    }
    assert!(upload_traced, "requests are traced:\n{log}");
    assert!(!log.contains('\u{1b}'), "JSON logs carry no escape codes");
    assert_no_secret(&log, &traffic);
}

#[tokio::test]
async fn plain_text_logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    let traffic = traffic(&daemon).await;
    assert!(daemon.terminate().success());
    let log = std::fs::read_to_string(stderr_path(&data_dir)).unwrap();
    assert!(
        log.contains("POST /documents 201"),
        "requests are traced:\n{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a log file:\n{log:?}"
    );
    assert!(
        log.lines()
            .all(|line| serde_json::from_str::<serde_json::Value>(line).is_err()),
        "plain text by default"
    );
    assert_no_secret(&log, &traffic);
}

#[test]
fn an_unknown_log_format_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let refused = Daemon::try_start_with_env(
        &data_dir,
        &sqlite_url(&data_dir),
        &[("SEALPOST__TELEMETRY__FORMAT", "xml")],
    );
    let Err(status) = refused else {
        panic!("an unknown telemetry.format must be refused");
    };
    assert!(
        status.contains("telemetry.format"),
        "names the setting: {status}"
    );
}
