//! `sealpost vault rotate-key`, run as the real binary against a running instance: crashed
//! midway for real, re-run, and run while `sealpost up` serves uploads.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use schema::{DocumentId, Repository};
use sealpost::instance::{KEYRING_FILE, OBJECTS_DIR};
use sealpost::rotation::FAILPOINT_ENV;
use vault::{Keyring, Vault};

use crate::cli::Daemon;
use crate::common::{Db, TestApp, document_form, files_under, on_both_databases, pseudo_random};

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

on_both_databases!(a_rotation_crashed_midway_leaves_every_document_readable_and_a_rerun_finishes);

/// `sealpost vault rotate-key` for `data_dir`, on the database at `database_url`.
fn rotate_key(data_dir: &Path, database_url: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(["vault", "rotate-key", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("SEALPOST__DATABASE__URL", database_url)
        .env_remove(FAILPOINT_ENV)
        .current_dir(data_dir.parent().unwrap());
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The key file's current id and every id in it.
fn keyring_ids(data_dir: &Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(data_dir.join(KEYRING_FILE)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids = json["keys"].as_object().unwrap().keys().cloned().collect();
    (json["current"].as_str().unwrap().to_owned(), ids)
}

async fn kek_usage(repo: &dyn Repository) -> BTreeMap<String, i64> {
    repo.kek_usage().await.unwrap().into_iter().collect()
}

/// Every stored object file and its bytes.
fn stored_files(data_dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(&data_dir.join(OBJECTS_DIR))
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Reads document `id` through a vault opened afresh on the data directory, as a restarted
/// process would: proves every row is under a key that is in the key file, not only in the
/// memory of the running instance.
async fn read_after_restart(data_dir: &Path, repo: &Arc<dyn Repository>, id: &str) -> Vec<u8> {
    let keyring = Keyring::load(&data_dir.join(KEYRING_FILE)).unwrap();
    let vault = Vault::local(&data_dir.join(OBJECTS_DIR), repo.clone(), keyring).unwrap();
    let document = repo
        .document_by_id(&DocumentId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let reader = vault.read(&document.object_key).await.unwrap();
    let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(reader.stream)
        .await
        .unwrap();
    chunks.concat()
}

async fn a_rotation_crashed_midway_leaves_every_document_readable_and_a_rerun_finishes(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let data_dir = app.data_dir();
    let url = app.settings.database_url();
    let mut documents = Vec::new();
    for i in 0..7 {
        let content = pseudo_random(40_000 * i + 10, i as u64); // up to five segments
        let id = app.upload(&token, "d.pdf", content.clone()).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        documents.push((id, content));
    }
    let (old, _) = keyring_ids(&data_dir);
    let blobs_before = stored_files(&data_dir);
    assert_eq!(blobs_before.len(), 7);

    let crashed = rotate_key(&data_dir, &url, &["--grace-secs", "0"])
        .env(FAILPOINT_ENV, "rotate-abort-after:3")
        .output()
        .unwrap();
    assert_eq!(
        crashed.status.signal(),
        Some(6),
        "SIGABRT, a real crash: {}",
        text(&crashed.stderr)
    );
    assert!(text(&crashed.stderr).contains("failpoint rotate-abort-after:3"));

    // Midway: a new current key, the old one kept, rows under both.
    let (new, ids) = keyring_ids(&data_dir);
    assert_ne!(new, old);
    assert_eq!(ids.len(), 2);
    let repo = schema::connect(&url).await.unwrap();
    assert_eq!(
        kek_usage(repo.as_ref()).await,
        BTreeMap::from([(old.clone(), 4), (new.clone(), 3)])
    );
    // Every document downloads exactly, from the running instance and from a restarted vault.
    for (id, content) in &documents {
        assert_eq!(&app.download(&token, id).await.unwrap(), content, "{id}");
        assert_eq!(&read_after_restart(&data_dir, &repo, id).await, content);
    }
    // An upload meanwhile goes under the new key.
    let late = pseudo_random(70_000, 99);
    let late_id = app.upload(&token, "late.pdf", late.clone()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    documents.push((late_id, late));
    assert_eq!(kek_usage(repo.as_ref()).await[&new], 4);

    // The re-run resumes (no third key), rewraps the rest and retires the old key.
    let rerun = rotate_key(&data_dir, &url, &["--grace-secs", "0"])
        .output()
        .unwrap();
    let summary = text(&rerun.stdout);
    assert!(rerun.status.success(), "{summary} {}", text(&rerun.stderr));
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(
        summary.contains(&format!("{new} (resumed)"))
            && summary.contains("rewrapped 4 data keys")
            && summary.contains(&format!("retired [{old}]")),
        "{summary}"
    );
    assert_eq!(keyring_ids(&data_dir), (new.clone(), vec![new.clone()]));
    assert_eq!(
        kek_usage(repo.as_ref()).await,
        BTreeMap::from([(new.clone(), 8)])
    );
    for (id, content) in &documents {
        assert_eq!(&app.download(&token, id).await.unwrap(), content, "{id}");
        assert_eq!(&read_after_restart(&data_dir, &repo, id).await, content);
    }
    // Content was never rewritten: every blob is byte for byte what it was.
    let blobs_after = stored_files(&data_dir);
    for (path, bytes) in &blobs_before {
        assert!(blobs_after[path] == *bytes, "{} changed", path.display());
    }
}

/// Uploads `content` to a daemon; returns the document id.
async fn upload(client: &reqwest::Client, api: &str, token: &str, content: Vec<u8>) -> String {
    let response = client
        .post(format!("{api}/documents"))
        .bearer_auth(token)
        .multipart(document_form("live.pdf", content))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: serde_json::Value = response.json().await.unwrap();
    record["id"].as_str().unwrap().to_owned()
}

async fn download(client: &reqwest::Client, api: &str, token: &str, id: &str) -> Vec<u8> {
    let response = client
        .get(format!("{api}/documents/{id}/document"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{id}");
    response.bytes().await.unwrap().to_vec()
}

/// Rotates while `sealpost up` serves, uploading all along; everything stays readable, also
/// after a restart.
async fn live_rotation(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let database_url = &db.fresh_database(&data_dir).await;
    let daemon = Daemon::start(&data_dir, database_url);
    let token = daemon.login().await;
    let api = format!("http://{}", daemon.api_addr);
    let client = reqwest::Client::new();
    let mut documents = Vec::new();
    for i in 0..5u64 {
        let content = pseudo_random(30_000, i);
        documents.push((
            upload(&client, &api, &token, content.clone()).await,
            content,
        ));
    }
    let (old, _) = keyring_ids(&data_dir);

    let mut rotation = rotate_key(&data_dir, database_url, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut during = 0;
    while rotation.try_wait().unwrap().is_none() {
        let content = pseudo_random(20_000, 100 + during);
        documents.push((
            upload(&client, &api, &token, content.clone()).await,
            content,
        ));
        during += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Output { status, stdout, .. } = rotation.wait_with_output().unwrap();
    let summary = text(&stdout);
    assert!(status.success(), "{summary}");
    assert!(during >= 5, "uploads ran during the rotation's grace");
    let (new, ids) = keyring_ids(&data_dir);
    assert_eq!(ids, [new.as_str()]);
    assert!(
        summary.contains(&format!("{new} (new)")) && summary.contains(&format!("retired [{old}]")),
        "{summary}"
    );
    let after = pseudo_random(10_000, 999);
    documents.push((upload(&client, &api, &token, after.clone()).await, after));
    for (id, content) in &documents {
        assert_eq!(&download(&client, &api, &token, id).await, content);
    }
    let repo = schema::connect(database_url).await.unwrap();
    assert_eq!(
        kek_usage(repo.as_ref()).await,
        BTreeMap::from([(new, documents.len() as i64)])
    );

    assert!(daemon.terminate().success());
    let daemon = Daemon::start(&data_dir, database_url);
    let token = daemon.login().await;
    let api = format!("http://{}", daemon.api_addr);
    for (id, content) in &documents {
        assert_eq!(&download(&client, &api, &token, id).await, content);
    }
    daemon.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_up_runs_sqlite() {
    live_rotation(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_up_runs_postgres() {
    live_rotation(Db::Postgres).await;
}

#[test]
fn a_second_rotation_at_once_and_a_wrong_directory_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let url = format!("sqlite:{}", data_dir.join("sealpost.db").display());
    let output = rotate_key(&data_dir, &url, &[]).output().unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no vault keyring"), "{stderr}");
    assert!(!data_dir.join(KEYRING_FILE).exists(), "nothing was created");

    let keyring_path = data_dir.join(KEYRING_FILE);
    Keyring::load_or_create(&keyring_path).unwrap();
    let before = std::fs::read(&keyring_path).unwrap();
    let _held = vault::keyring::UpdateLock::acquire(&keyring_path).unwrap();
    let output = rotate_key(&data_dir, &url, &[]).output().unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("another key rotation is running"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&keyring_path).unwrap(), before);
}
