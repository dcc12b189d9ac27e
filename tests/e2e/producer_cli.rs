//! The producer's command line (issue 21, item 1): the built `sealpost` binary run against an
//! instance as a producer would run it: `upload` with a CSV audience, `links`, `deliver
//! --wait`, `logs get` (verified before it is kept), `get`; ids beginning with `-`; exit codes;
//! top-secret round trips ([`top_secret`]); progress on a terminal only ([`terminal`]); the
//! retry of a cut connection ([`retry`]).

mod retry;
mod terminal;
mod top_secret;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{Db, TestApp, on_both_databases};
use crate::delivery::peers::HttpReceiver;

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

on_both_databases!(
    upload_links_deliver_logs_and_get,
    ids_beginning_with_a_hyphen_are_plain_arguments,
    exit_codes_say_usage_refusal_or_success,
);

/// A finished CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as one JSON value (asserting it is exactly one).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", self.stdout))
    }

    /// Asserts exit 0.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `sealpost ARGS` with `env`, in `dir`, stdout and stderr piped.
pub async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    tokio::process::Command::new(BINARY)
        .args(args)
        .env_remove("SEALPOST_API_KEY")
        .env_remove("SEALPOST_API")
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .current_dir(dir)
        .output()
        .await
        .unwrap()
        .into()
}

/// A workspace for CLI runs against `app`: a directory and the default producer's key file.
pub struct Producer {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub api: String,
}

impl Producer {
    pub fn of(app: &TestApp) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("producer-default.pem");
        std::fs::write(&key, app.default_key()).unwrap();
        Self {
            dir,
            key,
            api: app.api.clone(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `name` in the workspace; its path as text.
    pub fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    /// `sealpost ARGS --api … --key …` (credentials only for the commands taking them).
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        if args[0] != "get" {
            all.extend(["--api", &self.api, "--key"]);
            all.push(self.key.to_str().unwrap());
        }
        run_in(self.dir.path(), &all, &[]).await
    }
}

/// Two viewers as CSV (a quoted comma, a non-ASCII name).
const AUDIENCE_CSV: &str = "email_address,first_name,telephone\nh@ipo.st,Harry,4154445511\nz@ipo.st,\"Zoë, Jr\",+1 555 0100\n";

async fn upload_links_deliver_logs_and_get(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let receiver = HttpReceiver::start();
    let fulfillment = json!({
        "type": "http",
        "href": format!("{}/hook/{{first_name}}", receiver.0.url()),
        "body": "to={email_address}&link={+link}&campaign={campaign}",
    });
    let content = crate::common::pseudo_random(300_000, 21);
    let file = producer.file("report.pdf", &content);
    let csv = producer.file("viewers.csv", AUDIENCE_CSV.as_bytes());
    let fulfillment_arg = format!(
        "@{}",
        producer.file("f.json", fulfillment.to_string().as_bytes())
    );
    let record = producer
        .run(&[
            "upload",
            &file,
            "--audience",
            &csv,
            "--token-fields",
            "telephone,first_name",
            "--fulfillment",
            &fulfillment_arg,
            "--metadata",
            r#"{"campaign":"q4"}"#,
            "--expires",
            "2030-01-31",
            "--json",
        ])
        .await
        .ok()
        .json();
    let id = record["id"].as_str().unwrap().to_owned();
    assert_eq!(record["name"], "report.pdf");
    assert_eq!(record["mediaType"], "application/pdf");
    assert_eq!(record["size"], 300_000);
    assert!(
        record["expiration"]
            .as_str()
            .unwrap()
            .starts_with("2030-01-31")
    );
    let token = app.login().await;
    let audience = app
        .get_json(&token, &format!("/documents/{id}/audience"))
        .await;
    assert_eq!(audience["viewerToken"], "{?telephone,first_name}");
    assert_eq!(audience["data"]["records"][1]["first_name"], "Zoë, Jr");
    assert_eq!(audience["data"]["records"][1]["telephone"], "+1 555 0100");
    assert_eq!(app.download(&token, &id).await.unwrap(), content);

    let links = producer.run(&["links", &id]).await.ok();
    let links: Vec<&str> = links.stdout.lines().collect();
    assert_eq!(links.len(), 2);
    assert!(
        links
            .iter()
            .all(|l| l.starts_with(&format!("{}/l/", app.gateway)))
    );
    let csv = producer.run(&["links", &id, "--csv"]).await.ok().stdout;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "email_address,first_name,telephone,link");
    assert!(
        rows[2].starts_with("z@ipo.st,\"Zoë, Jr\",+1 555 0100,http"),
        "{csv}"
    );

    let status = producer
        .run(&[
            "deliver",
            &id,
            "--wait",
            "--field",
            "campaign=winter",
            "--json",
        ])
        .await
        .ok()
        .json();
    assert_eq!(status["state"], "done");
    assert_eq!(status["counts"]["sent"], 2);
    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 2, "one request per record, no duplicate");
    // A recipient refused for good: exit 1, and with --json still exactly one JSON object
    // (the status, which says so).
    receiver.script(&[400], 0).await;
    let failed = producer.run(&["deliver", &id, "--wait", "--json"]).await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert_eq!(failed.json()["counts"]["failed"], 1, "{}", failed.stdout);
    assert!(
        failed.stderr.contains("1 recipient(s) failed"),
        "{}",
        failed.stderr
    );

    logs_get_keeps_only_a_verified_zip(&producer, &id).await;
    get_downloads_through_a_link(&producer, links[0], &content).await;
}

/// `logs get DOC -o F`: F verifies; a broken keys source leaves no file and exits 1.
async fn logs_get_keeps_only_a_verified_zip(producer: &Producer, id: &str) {
    let zip = producer.path("logs.zip");
    let zip_arg = zip.to_str().unwrap();
    let run = producer.run(&["logs", "get", id, "-o", zip_arg]).await.ok();
    assert!(run.stdout.starts_with("verified:"), "{}", run.stdout);
    let offline = run_in(
        producer.dir.path(),
        &["logs", "verify", zip_arg, "--key", &producer.api],
        &[],
    )
    .await;
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    // Keys that did not sign it: nothing is kept.
    let other_keys = producer.file("keys.json", br#"{"keys": []}"#);
    let refused = producer.path("refused.zip");
    let run = producer
        .run(&[
            "logs",
            "get",
            id,
            "-o",
            refused.to_str().unwrap(),
            "--keys",
            &other_keys,
        ])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!refused.exists());
    let leftovers: Vec<_> = std::fs::read_dir(producer.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `get LINK -o F` follows the gateway's redirect to the handle and writes the bytes.
async fn get_downloads_through_a_link(producer: &Producer, link: &str, content: &[u8]) {
    let out = producer.path("out.pdf");
    producer
        .run(&["get", link, "-o", out.to_str().unwrap()])
        .await
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), content);
}

/// Uploads tiny documents until one's id begins with `-` (about one in 64).
pub async fn hyphen_document(app: &TestApp, token: &str) -> String {
    for i in 0..3000 {
        let record = app
            .upload(token, "h.txt", format!("attempt {i}").into_bytes())
            .await;
        let id = record["id"].as_str().unwrap();
        if id.starts_with('-') {
            return id.to_owned();
        }
    }
    panic!("no id began with '-' in 3000 uploads");
}

async fn ids_beginning_with_a_hyphen_are_plain_arguments(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let id = hyphen_document(&app, &token).await;
    let producer = Producer::of(&app);
    let links = producer.run(&["links", &id, "--json"]).await.ok().json();
    assert_eq!(links["links"].as_array().unwrap().len(), 1);
    let zip = producer.path("h.zip");
    let run = producer
        .run(&["logs", "get", &id, "-o", zip.to_str().unwrap(), "--json"])
        .await
        .ok()
        .json();
    assert!(
        run["report"]
            .as_str()
            .unwrap()
            .contains(&format!("document {id}")),
        "{run}"
    );
    // No fulfillment: the server's 409 for this very document, not a usage error.
    let deliver = producer.run(&["deliver", &id]).await;
    assert_eq!(deliver.code, 1, "{}", deliver.stderr);
    assert_eq!(deliver.json()["status"], 409);
}

async fn exit_codes_say_usage_refusal_or_success(db: Db) {
    let app = TestApp::spawn(db).await;
    let producer = Producer::of(&app);
    let file = producer.file("a.txt", b"hello");
    let csv = producer.file("v.csv", AUDIENCE_CSV.as_bytes());
    for args in [
        &["upload"][..],
        &["upload", &file, "--audience", &csv],
        &[
            "upload",
            &file,
            "--audience",
            &csv,
            "--token-fields",
            "phone",
        ],
        &["upload", &file, "--metadata", "{not json"],
        &["upload", &file, "--passphrase-file", &file],
        &["links", "../../keys"],
    ] {
        let run = producer.run(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty() || args[0] == "links", "{args:?}");
    }
    // Refused by the server: exit 1 and its problem+json on stdout.
    let run = producer.run(&["links", "AAAAAAAAAAAAAAAAAAAAAA"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["status"], 404);
    let run = producer
        .run(&["upload", &file, "--expires", "2001-01-01"])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.json()["status"], 400);
    let bad_key = run_in(
        producer.dir.path(),
        &[
            "links",
            "AAAAAAAAAAAAAAAAAAAAAA",
            "--api",
            &app.api,
            "--json",
        ],
        &[("SEALPOST_API_KEY", "sp_live_AAAAAAAAAAAAAAAAAAAAAA_nope")],
    )
    .await;
    assert_eq!(bad_key.code, 1, "{}", bad_key.stderr);
    assert_eq!(bad_key.json()["status"], 401);
    // With --json a failure is one JSON object too.
    let run = producer
        .run(&["upload", "/nonexistent/file", "--json"])
        .await;
    assert_eq!(run.code, 2);
    assert!(
        run.json()["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/file")
    );
}
