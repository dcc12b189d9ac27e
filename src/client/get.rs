//! `sealpost get HANDLE-URL -o FILE [--key K | --passphrase-file F]`: downloads a document from
//! the vault (no credentials: the handle is one) into a temporary file beside FILE and renames
//! it only once the download is whole. A top-secret document (media type
//! `application/vnd.sealpost.e2e`) is decrypted on the way with the key or passphrase, and
//! renamed only after its last segment verified: never a partial or unverified plaintext.
//! Without a key or passphrase such a document is refused (exit 1), nothing written. A viewer's
//! link to a top-secret document answers the gateway's landing page, which carries the handle
//! URL (`data-handle`): `get` follows it, so `get 'LINK#k=…' -o F` works as the browser does.
//! Any other web page (a challenge) is refused: open such a link in a browser.

use std::path::Path;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::json;
use shared::e2e::{Decryptor, E2eKey, KeySource, MEDIA_TYPE};
use tokio::io::AsyncWriteExt as _;

use super::args::Get;
use super::http::{client, refused};
use super::logs_get::parent_dir;
use super::{print_result, progress, usage};

/// Runs `sealpost get`.
pub async fn run(args: &Get) -> anyhow::Result<()> {
    let (url, fragment) = match args.url.split_once('#') {
        Some((url, fragment)) => (url.to_owned(), Some(fragment.to_owned())),
        None => (args.url.clone(), None),
    };
    reqwest::Url::parse(&url).map_err(|e| usage(format!("{url}: {e}")))?;
    let source = key_source(args, fragment.as_deref())?;
    let client = client()?;
    let mut response = fetch(&client, &url).await?;
    if let Some(handle) = landing_page_handle(&mut response).await? {
        response = fetch(&client, &handle).await?;
    }
    let media_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let sealed = media_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim() == MEDIA_TYPE);
    let decryptor = match (sealed, source) {
        (true, Some(source)) => Some(Decryptor::new(&source)),
        (true, None) => anyhow::bail!(
            "the document is top-secret: give its key (--key, or the link's #k=… on the URL) \
             or --passphrase-file; nothing was written"
        ),
        (false, _) => None,
    };
    let temp = tempfile::Builder::new()
        .prefix(".sealpost-get-")
        .suffix(".part")
        .tempfile_in(parent_dir(&args.output))
        .with_context(|| format!("creating a temporary file beside {}", args.output.display()))?;
    let outcome = download(response, temp.path(), decryptor).await?;
    temp.persist(&args.output)
        .with_context(|| format!("keeping {}", args.output.display()))?;
    let (name, media_type) = outcome.unwrap_or((None, media_type));
    let value = json!({
        "file": args.output.display().to_string(),
        "name": name,
        "mediaType": media_type,
        "decrypted": sealed,
    });
    let text = format!("{}\n", args.output.display());
    print_result(args.json, &value, Some(text));
    Ok(())
}

/// `GET url` (redirects followed): the 2xx answer, else [`super::Refused`].
async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<reqwest::Response> {
    let response = client
        .get(url)
        .send()
        .await
        .context("network error talking to the gateway or the vault")?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        return Err(refused(status, &body).into());
    }
    Ok(response)
}

/// The longest landing page read to find its handle.
const MAX_PAGE_BYTES: usize = 1 << 20;

/// When `response` is the gateway's landing page of a top-secret document (a viewer's link
/// answers it instead of redirecting), the vault handle URL it carries (`data-handle`); the
/// page is consumed then. A vault answer (`/h/…`) or any other type is left alone.
async fn landing_page_handle(response: &mut reqwest::Response) -> anyhow::Result<Option<String>> {
    let html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html || response.url().path().starts_with("/h/") {
        return Ok(None);
    }
    let mut page = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        page.extend_from_slice(&chunk);
        anyhow::ensure!(
            page.len() <= MAX_PAGE_BYTES,
            "the link answered a page too large to read"
        );
    }
    let page = String::from_utf8_lossy(&page);
    let handle = page
        .split_once("data-handle=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| unescape(value));
    match handle {
        Some(handle) => Ok(Some(handle)),
        None => anyhow::bail!(
            "the link answered a web page, not a document (a challenge? open it in a browser); \
             nothing was written"
        ),
    }
}

/// An HTML attribute value's text (the five entities an HTML writer escapes).
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The key or passphrase given: `--key`, `--passphrase-file`, or the URL's `#k=…`.
fn key_source(args: &Get, fragment: Option<&str>) -> anyhow::Result<Option<KeySource>> {
    if let Some(path) = &args.passphrase_file {
        return Ok(Some(KeySource::Passphrase(super::e2e::read_passphrase(
            path,
        )?)));
    }
    let text = match (&args.key, fragment) {
        (Some(key), _) => match key.strip_prefix('@') {
            Some(path) => zeroize::Zeroizing::new(
                std::fs::read_to_string(Path::new(path))
                    .map_err(|e| usage(format!("--key @{path}: {e}")))?,
            ),
            None => zeroize::Zeroizing::new(key.clone()),
        },
        (None, Some(fragment)) => zeroize::Zeroizing::new(fragment.to_owned()),
        (None, None) => return Ok(None),
    };
    Ok(Some(KeySource::Key(parse_key(&text)?)))
}

/// `k=…`, `#k=…`, a link ending in `#k=…`, or the bare base64url key.
fn parse_key(text: &str) -> anyhow::Result<E2eKey> {
    let text = text.trim();
    let fragment = text.rsplit_once('#').map_or(text, |(_, f)| f);
    let fragment = if fragment.starts_with("k=") {
        fragment.to_owned()
    } else {
        format!("k={fragment}")
    };
    E2eKey::from_fragment(&fragment).map_err(|e| usage(format!("--key: {e}")))
}

/// Streams the body into `path`, through `decryptor` when given; the plaintext's name and
/// media type for a decrypted document. Fails (the caller then keeps nothing) on a broken
/// download or a segment that does not verify.
async fn download(
    response: reqwest::Response,
    path: &Path,
    mut decryptor: Option<Decryptor>,
) -> anyhow::Result<Option<(Option<String>, String)>> {
    let bar = progress::bytes("get", response.content_length());
    let mut file = tokio::fs::File::create(path).await?;
    let mut body = response.bytes_stream();
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the download broke off")?;
        bar.inc(chunk.len() as u64);
        match &mut decryptor {
            Some(decryptor) => {
                out.clear();
                decryptor.push(&chunk, &mut out)?;
                file.write_all(&out).await?;
            }
            None => file.write_all(&chunk).await?,
        }
    }
    let metadata = match decryptor {
        Some(decryptor) => {
            let metadata = decryptor.finish()?;
            Some((Some(metadata.name), metadata.media_type))
        }
        None => None,
    };
    file.sync_all().await?;
    bar.finish();
    Ok(metadata)
}
