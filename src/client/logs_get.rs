//! `sealpost logs get [DOC] [--from D] [--to D] -o FILE.zip`: downloads `GET /logs{/docId}`
//! into a temporary file beside FILE.zip, checks it as `sealpost logs verify` does (the
//! instance's signature, the manifest, every hash chain) and only then renames it to FILE.zip.
//! A zip that does not verify is deleted and the command exits 1: nothing unverified is kept.

use std::path::Path;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use super::args::LogsGet;
use super::http::{Api, refused};
use super::links::check_doc;
use super::{print_result, progress};

/// Runs `sealpost logs get`.
pub async fn run(args: &LogsGet) -> anyhow::Result<()> {
    if let Some(doc) = &args.doc {
        check_doc(doc)?;
    }
    let api = Api::connect(&args.remote).await?;
    let dir = parent_dir(&args.output);
    let temp = tempfile::Builder::new()
        .prefix(".sealpost-logs-")
        .suffix(".zip.part")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let bytes = download(&api, args, temp.path()).await?;
    let keys =
        (args.keys.clone()).unwrap_or_else(|| format!("{}/.well-known/sealpost-keys", api.base));
    let report = crate::logs::verify(temp.path(), &keys).await?;
    temp.persist(&args.output)
        .with_context(|| format!("keeping {}", args.output.display()))?;
    let summary = report.to_string();
    let value = json!({
        "file": args.output.display().to_string(),
        "bytes": bytes,
        "verified": true,
        "report": summary,
    });
    print_result(args.remote.json, &value, Some(summary));
    Ok(())
}

/// The directory a file `path` goes in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Streams the export into `path` (fsynced); its length. Not retried: a read-only request the
/// user can run again, and a broken-off download fails the verification anyway.
async fn download(api: &Api, args: &LogsGet, path: &Path) -> anyhow::Result<u64> {
    let route = match &args.doc {
        Some(doc) => format!("/logs/{doc}"),
        None => "/logs".to_owned(),
    };
    let mut query = Vec::new();
    if let Some(from) = &args.from {
        query.push(("start_date", from.as_str()));
    }
    if let Some(to) = &args.to {
        query.push(("end_date", to.as_str()));
    }
    let request = api.authorize(api.client.get(api.url(&route)).query(&query));
    let response = request
        .send()
        .await
        .context("network error talking to the API server")?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        return Err(refused(status, &body).into());
    }
    let bar = progress::bytes("logs", response.content_length());
    let mut file = tokio::fs::File::create(path).await?;
    let mut body = response.bytes_stream();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the download broke off")?;
        file.write_all(&chunk).await?;
        written += chunk.len() as u64;
        bar.set_position(written);
    }
    file.sync_all().await?;
    bar.finish();
    Ok(written)
}
