//! `sealpost logs verify FILE.zip --key URL-or-FILE`: the offline check of a `GET /logs` export
//! ([`shared::logzip::verify()`]) against the instance's published keys.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use shared::logzip::{KeySet, Report};

/// Where `GET /.well-known/sealpost-keys` lives on an API server.
const KEYS_PATH: &str = "/.well-known/sealpost-keys";

/// Checks the export at `file` against the keys at `key` (a URL or a saved copy of the key set).
pub async fn verify(file: &Path, key: &str) -> anyhow::Result<Report> {
    let keys = load_keys(key).await?;
    shared::logzip::verify(file, &keys)
        .await
        .with_context(|| format!("{} does not verify", file.display()))
}

/// The key set from `source`: an `http(s)://` URL (an API server's root URL stands for its
/// `/.well-known/sealpost-keys`), or a file holding that JSON.
pub async fn load_keys(source: &str) -> anyhow::Result<KeySet> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let mut url = reqwest::Url::parse(source).with_context(|| format!("--key {source}"))?;
        if url.path() == "/" {
            url.set_path(KEYS_PATH);
        }
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?
            .get(url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("fetching the keys from {url}"))?
            .text()
            .await
            .with_context(|| format!("fetching the keys from {url}"))?
    } else {
        tokio::fs::read_to_string(source)
            .await
            .with_context(|| format!("reading the keys from {source}"))?
    };
    serde_json::from_str(&text)
        .with_context(|| format!("{source} is not a key set ({{\"keys\": [{{\"keyId\", …}}]}})"))
}
