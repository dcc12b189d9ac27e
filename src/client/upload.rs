//! `sealpost upload FILE …`: `POST /documents` with the form parts from the flags and the
//! file streamed as the document part (constant memory), retried safely under one
//! `Idempotency-Key`; prints the record JSON. With `--top-secret` the file is encrypted on the
//! way ([`super::e2e`]) and the viewers' links are printed with their key fragment.

use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use indicatif::ProgressBar;
use serde_json::{Value, json};

use super::args::Upload;
use super::e2e::Sealing;
use super::http::{Api, idempotency_key};
use super::multipart::Form;
use super::parts::{expiration, json_arg, media_type_of, top_secret_metadata};
use super::{audience, print_result, progress, usage};

/// How much of the file is read at a time.
pub const READ_CHUNK: usize = 256 * 1024;

/// The document part: its name, type, length, and where its bytes come from.
pub struct Document {
    pub file_name: String,
    pub media_type: String,
    /// The bytes sent (the ciphertext's length for a top-secret document).
    pub len: u64,
    /// The plaintext file.
    pub path: std::path::PathBuf,
    /// The file's own length (what the progress bar counts).
    pub file_len: u64,
    /// The encryption of a top-secret document.
    pub sealing: Option<Sealing>,
}

impl Document {
    /// The document part's bytes for one attempt; `bar` counts plaintext bytes read.
    fn stream(
        &self,
        bar: &ProgressBar,
    ) -> anyhow::Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        let file = std::fs::File::open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        let file = tokio::fs::File::from_std(file);
        bar.set_position(0);
        let bar = bar.clone();
        let plain =
            tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).inspect(move |chunk| {
                if let Ok(chunk) = chunk {
                    bar.inc(chunk.len() as u64);
                }
            });
        Ok(match &self.sealing {
            None => plain.boxed(),
            Some(sealing) => sealing.seal_stream(plain)?.boxed(),
        })
    }
}

/// Runs `sealpost upload`.
pub async fn run(args: &Upload) -> anyhow::Result<()> {
    let (form, document) = prepare(args)?;
    let api = Api::connect(&args.remote).await?;
    let record = send(&api, &form, &document).await?;
    match &document.sealing {
        None => print_result(args.remote.json, &record, None),
        Some(sealing) => super::e2e::print_upload(&api, args, sealing, record).await?,
    }
    Ok(())
}

/// The form's text parts and the document part, from the flags (usage errors before any
/// request is made).
fn prepare(args: &Upload) -> anyhow::Result<(Form, Document)> {
    let file_len = std::fs::metadata(&args.file)
        .map_err(|e| usage(format!("{}: {e}", args.file.display())))?
        .len();
    let file_name = base_name(&args.file)?;
    let media_type = args
        .media_type
        .clone()
        .unwrap_or_else(|| media_type_of(&args.file).to_owned());
    let mut form = Form::new();
    let sealing = if args.top_secret {
        let sealing = Sealing::new(args, &file_name, &media_type)?;
        Some(sealing)
    } else {
        None
    };
    let name = match (&args.name, &sealing) {
        (Some(name), _) => Some(name.clone()),
        (None, Some(_)) => Some(super::e2e::SERVER_NAME.to_owned()),
        (None, None) => None,
    };
    add_parts(&mut form, args, name)?;
    let document = match sealing {
        None => Document {
            file_name,
            media_type,
            len: file_len,
            path: args.file.clone(),
            file_len,
            sealing: None,
        },
        Some(sealing) => sealing.document(&args.file, file_len),
    };
    Ok((form, document))
}

/// The text parts: `name`, `expiration`, `audience` and the JSON objects.
fn add_parts(form: &mut Form, args: &Upload, name: Option<String>) -> anyhow::Result<()> {
    if let Some(name) = name {
        form.text("name", &name, false);
    }
    if let Some(expires) = &args.expires {
        form.text("expiration", &expiration(expires), false);
    }
    if let Some(csv) = &args.audience {
        let audience = audience::from_csv(csv, &args.token_fields)?;
        form.text("audience", &audience.to_string(), true);
    }
    let objects = [
        ("challenge", &args.challenge),
        ("fulfillment", &args.fulfillment),
        ("landingpage", &args.landingpage),
    ];
    for (flag, value) in objects {
        if let Some(value) = value {
            form.text(flag, &json_arg(flag, value)?.to_string(), true);
        }
    }
    let metadata = args
        .metadata
        .as_deref()
        .map(|value| json_arg("metadata", value))
        .transpose()?;
    let metadata = if args.top_secret {
        Some(top_secret_metadata(metadata)?)
    } else {
        metadata
    };
    if let Some(metadata) = metadata {
        form.text("metadata", &metadata.to_string(), true);
    }
    Ok(())
}

/// The file's own name (a usage error for a path without one, or not UTF-8).
fn base_name(path: &Path) -> anyhow::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| usage(format!("{}: not a file name in UTF-8", path.display())))
}

/// `POST /documents` under one `Idempotency-Key`, every attempt the same bytes: the record.
pub async fn send(api: &Api, form: &Form, document: &Document) -> anyhow::Result<Value> {
    let key = idempotency_key();
    let bar = progress::bytes("upload", Some(document.file_len));
    let url = api.url("/documents");
    let len = form.len(&document.file_name, &document.media_type, document.len);
    let result = api
        .send_json(|| {
            let body = form.body(
                &document.file_name,
                &document.media_type,
                document.stream(&bar)?,
            );
            Ok(api
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, form.content_type())
                .header(reqwest::header::CONTENT_LENGTH, len)
                .header("Idempotency-Key", &key)
                .body(body))
        })
        .await;
    bar.finish();
    let (_, record) = result?;
    Ok(record)
}

/// The record JSON of an upload, with the links of a top-secret one.
pub fn with_links(record: Value, links: Value) -> Value {
    json!({ "record": record, "links": links })
}
