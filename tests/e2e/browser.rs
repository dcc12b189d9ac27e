//! Headless Chromium (Debian's package, driven by playwright-core from `tests/browser`) plays a
//! video through a vault handle and seeks in it; the seek's byte-range requests show up in the
//! vault access log. `scripts/test` installs both; run `npm ci --prefix tests/browser` and
//! `apt-get install chromium` to run this test on its own.

use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::common::{Db, TestApp};

/// Runs one of the browser scripts with `args`; panics with its stderr when it fails.
pub fn run_browser_script(script: &str, args: &[&str]) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run scripts/test, or `npm ci --prefix tests/browser`"
    );
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script} output: {e}"))
}

#[tokio::test]
async fn chromium_plays_a_video_through_a_handle_and_seeks() {
    // One database is enough here: the browser exercises the vault's HTTP face, not storage.
    let mut app = TestApp::spawn(Db::Sqlite).await;
    let token = app.login().await;
    let video =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seek-test.webm"))
            .unwrap();
    let form = Form::new().part(
        "document",
        Part::bytes(video.clone())
            .file_name("seek-test.webm")
            .mime_str("video/webm")
            .unwrap(),
    );
    let response = app.upload_form(&token, form).await;
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap().to_owned();
    let url = app.handle_url(&id, 300).await;
    let started = Utc::now();

    let played = tokio::task::spawn_blocking(move || run_browser_script("video-seek.mjs", &[&url]))
        .await
        .unwrap();
    let duration = played["duration"].as_f64().unwrap();
    assert!((duration - 30.0).abs() < 0.5, "{played}");
    assert!(
        played["seekedTo"].as_f64().unwrap() > duration - 3.0,
        "the seek landed: {played}"
    );
    let ranges: Vec<&str> = played["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        ranges
            .iter()
            .any(|r| r.starts_with("bytes=") && !r.starts_with("bytes=0-")),
        "the browser asked for a later byte range: {played}"
    );

    // The vault log (complete after a clean stop) shows those range requests as 206s that sent
    // only part of the object.
    app.stop().await;
    let repo = schema::connect(&app.settings.database_url()).await.unwrap();
    let doc_id = schema::DocumentId::parse(&id).unwrap();
    let producer = repo
        .document_by_id(&doc_id)
        .await
        .unwrap()
        .unwrap()
        .producer_id;
    let records = repo
        .vault_log(
            &producer,
            Some(&doc_id),
            started - Duration::seconds(5),
            Utc::now(),
        )
        .await
        .unwrap();
    let partial: Vec<Vec<String>> = records
        .iter()
        .map(|r| r.fields.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .filter(|columns| columns[7] == "206")
        .collect();
    assert!(
        partial.len() >= 2,
        "range requests in the vault log: {records:#?}"
    );
    let size = video.len().to_string();
    assert!(
        partial
            .iter()
            .any(|c| c[10] == size && c[9].parse::<usize>().unwrap() < video.len()),
        "a partial response in the log: {partial:#?}"
    );
}
