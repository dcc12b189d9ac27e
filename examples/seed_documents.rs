//! Fills a running instance with documents through the public API, for benchmarks:
//! `--count` small documents without audience, then one document per `--audience N` whose
//! `records` audience (viewer token `{?email}`) holds N records `{"email": "v{i}@x"}`.
//!
//!     cargo run --release --example seed_documents -- \
//!         --api http://127.0.0.1:8080 --key sealpost-data/producer-default.pem \
//!         --count 100000 --audience 10000 --audience 10
//!
//! Uploads run `--concurrency` at a time (one `POST /documents` each, as any client would).
//! Prints one line per document a benchmark requests, placeholder template stripped:
//! `open URL` (the last of the `--count` documents) and `audience N URL` (the viewer token of
//! its last record appended, e.g. `?email=v9999%40x`). Progress and timings go to stderr.

use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures_util::{StreamExt as _, TryStreamExt as _};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The API's root URL.
    #[arg(long)]
    api: String,
    /// The producer's private key (PEM), e.g. DATA_DIR/producer-default.pem.
    #[arg(long)]
    key: std::path::PathBuf,
    /// Documents without audience.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Also upload a document with a records audience of this many records (repeatable).
    #[arg(long)]
    audience: Vec<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let api = args.api.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let token = login(&client, &api, &args.key).await?;

    let started = Instant::now();
    let mut last_open = None;
    let mut uploads = futures_util::stream::iter(0..args.count)
        .map(|i| upload_plain(&client, &api, &token, i))
        .buffer_unordered(args.concurrency.max(1));
    let mut done = 0usize;
    while let Some(placeholder) = uploads.try_next().await? {
        done += 1;
        if done == args.count {
            last_open = Some(placeholder);
        }
        if done.is_multiple_of(10_000) {
            eprintln!(
                "seeded {done} documents in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let bulk_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} documents without audience in {bulk_secs:.1} s ({:.0} uploads/s, {} in flight)",
        args.count,
        args.count as f64 / bulk_secs.max(1e-9),
        args.concurrency
    );
    if let Some(url) = last_open {
        println!("open {url}");
    }

    for &size in &args.audience {
        let records: Vec<Value> = (0..size)
            .map(|i| json!({ "email": format!("v{i}@x") }))
            .collect();
        let audience = json!({
            "type": "records",
            "viewerToken": "{?email}",
            "data": { "records": records },
        });
        let form = Form::new()
            .part(
                "document",
                Part::bytes(format!("document for an audience of {size}\n").into_bytes())
                    .file_name(format!("audience-{size}.txt"))
                    .mime_str("text/plain")?,
            )
            .text("audience", audience.to_string());
        let url = upload(&client, &api, &token, form).await?;
        let member = format!("v{}@x", size.saturating_sub(1));
        let query = form_query(&[("email", &member)]);
        println!("audience {size} {url}?{query}");
    }
    eprintln!(
        "seeding finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `POST /login` with the key file; the token comes back in `Authorization`.
async fn login(
    client: &reqwest::Client,
    api: &str,
    key: &std::path::Path,
) -> anyhow::Result<String> {
    let pem = std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let form = Form::new()
        .text("key", pem)
        .text("email", "bench@example.com");
    let response = client
        .post(format!("{api}/login"))
        .multipart(form)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("login answered {}", response.status());
    }
    let header = response
        .headers()
        .get(reqwest::header::AUTHORIZATION)
        .context("no Authorization header in the login answer")?
        .to_str()?;
    Ok(header
        .split_whitespace()
        .last()
        .context("empty Authorization header")?
        .to_owned())
}

/// Uploads the `i`th small text document, without audience.
async fn upload_plain(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    i: usize,
) -> anyhow::Result<String> {
    let form = Form::new().part(
        "document",
        Part::bytes(format!("benchmark document {i}\n").into_bytes())
            .file_name(format!("doc-{i}.txt"))
            .mime_str("text/plain")?,
    );
    upload(client, api, token, form).await
}

/// `POST /documents`; the created document's placeholder URL without its template.
async fn upload(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    form: Form,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{api}/documents"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    let status = response.status();
    if status != reqwest::StatusCode::CREATED {
        let body = response.text().await.unwrap_or_default();
        bail!("upload answered {status}: {body}");
    }
    let record: Value = response.json().await?;
    let href = record["links"]["placeholder"]["href"]
        .as_str()
        .context("no links.placeholder.href in the created record")?;
    Ok(href.split('{').next().unwrap_or(href).to_owned())
}

/// `name=value&…`, form-encoded.
fn form_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
