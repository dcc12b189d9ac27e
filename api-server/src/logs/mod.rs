//! `GET /logs{/docId}`: a producer's audit logs as a signed zip ([`shared::logzip`] has the
//! format and the offline verifier; the response headers are signed as any signed content,
//! by the API's [`Signer`]).
//!
//! The zip is built first into an unnamed temporary file in the data directory (the kernel
//! frees it when it is closed, also after a crash), then its SHA-256 is taken and the response
//! headers signed over it, and only then is the file streamed to the client. The signed-response
//! headers (DESIGN.md) must precede the body yet cover the body's digest; spooling makes the
//! digest the one of exactly the bytes sent, from one pass over the database, in constant
//! memory. The cost is disk space for one compressed export while it is sent, and a first byte
//! only once the export is built.

pub mod range;
pub mod retention;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use schema::{DocumentId, LogKind, Tenant};
use shared::content_signature;
use shared::logzip::write::{SPOOL_BUFFER, Scope};
use shared::logzip::{ExportWriter, Manifest};
use tokio::io::{AsyncSeekExt as _, BufWriter};

pub use range::Range;

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::signer::Signer;

/// What `GET /logs` needs beyond the repository: the signer of exports (the instance key,
/// which also signs `manifest.json`), and where they are built.
pub struct LogExports {
    signer: Signer,
    spool_dir: PathBuf,
}

impl LogExports {
    /// `spool_dir` is the data directory.
    pub fn new(signer: Signer, spool_dir: PathBuf) -> Self {
        Self { signer, spool_dir }
    }
}

/// A built export, ready to stream.
pub struct Export {
    /// The zip, positioned at its start.
    pub file: tokio::fs::File,
    pub len: u64,
    /// `sealpost-logs-<from>-<to>[-<docId>].zip`.
    pub file_name: String,
    /// `x-sealpost-signature`.
    pub signature: String,
    /// `x-sealpost-signature-date`.
    pub signature_date: String,
}

/// Builds `tenant`'s export over `range`, for one document when `document` is given: the
/// lines of its environment only (see [`schema::LogRepo::export_log`]; lines naming no
/// document are live lines).
pub async fn export(
    context: &ApiContext,
    tenant: &Tenant,
    document: Option<DocumentId>,
    range: Range,
) -> Result<Export, ApiError> {
    let producer = &tenant.producer;
    let scope = Scope {
        producer: producer.clone(),
        document: document.clone(),
        from: range.from,
        to: range.to,
        generated_at: Utc::now(),
    };
    let file_name = file_name(&scope);
    let (mut file, manifest) = write_zip(context, tenant, scope).await?;
    let (len, signature, signature_date) = sign(&mut file, &context.logs.signer)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(
        producer = producer.as_str(),
        environment = tenant.environment.as_str(),
        document = document.as_ref().map(DocumentId::as_str),
        records = manifest.logs.iter().map(|log| log.records).sum::<u64>(),
        bytes = len,
        "logs exported"
    );
    Ok(Export {
        file,
        len,
        file_name,
        signature,
        signature_date,
    })
}

/// Streams the three logs in `scope` into a spooled zip and signs its manifest.
async fn write_zip(
    context: &ApiContext,
    tenant: &Tenant,
    scope: Scope,
) -> Result<(tokio::fs::File, Manifest), ApiError> {
    let exports = &context.logs;
    let document = scope.document.clone();
    let (from, to) = (scope.from.unwrap_or(DateTime::UNIX_EPOCH), scope.to);
    let spool = tempfile::tempfile_in(&exports.spool_dir).map_err(ApiError::internal)?;
    let out = BufWriter::with_capacity(SPOOL_BUFFER, tokio::fs::File::from_std(spool));
    let mut writer = ExportWriter::new(out, scope, &exports.spool_dir);
    for kind in LogKind::ALL {
        let lines = context
            .repo
            .export_log(kind, tenant, document.as_ref(), from, to);
        writer
            .write_log(kind, lines)
            .await
            .map_err(ApiError::internal)?;
    }
    let (out, manifest) = writer
        .finish(exports.signer.key())
        .await
        .map_err(ApiError::internal)?;
    Ok((out.into_inner(), manifest))
}

/// Hashes the finished zip and signs the response headers over it: (length, signature,
/// signature date). Leaves the file at its start, ready to send.
async fn sign(
    file: &mut tokio::fs::File,
    signer: &Signer,
) -> std::io::Result<(u64, String, String)> {
    file.rewind().await?;
    let (sha256, len) = content_signature::sha256_of(&mut *file).await?;
    file.rewind().await?;
    let (signature, date) = signer.sign_digest(&sha256);
    Ok((len, signature, date))
}

/// The caller's document `id`: a current one (expired included), or a deleted one whose lines
/// the logs still hold — an audit trail outlives its document. Anything else, another
/// producer's id or one of the other environment included, is 404.
pub async fn owned_document(
    context: &ApiContext,
    tenant: &Tenant,
    id: &str,
) -> Result<DocumentId, ApiError> {
    let id = DocumentId::parse(id).map_err(|_| ApiError::NotFound)?;
    if context.repo.document(tenant, &id).await?.is_some() {
        return Ok(id);
    }
    for kind in LogKind::ALL {
        let first = context
            .repo
            .export_log(kind, tenant, Some(&id), DateTime::UNIX_EPOCH, Utc::now())
            .next()
            .await
            .transpose()?;
        if first.is_some() {
            return Ok(id);
        }
    }
    Err(ApiError::NotFound)
}

/// `sealpost-logs-<from>-<to>[-<docId>].zip`, times as `20261129T000000Z`, a missing start as
/// `beginning`.
fn file_name(scope: &Scope) -> String {
    let compact = |time: DateTime<Utc>| time.format("%Y%m%dT%H%M%SZ").to_string();
    let from = scope.from.map_or_else(|| "beginning".to_owned(), compact);
    let document = scope
        .document
        .as_ref()
        .map(|id| format!("-{}", id.as_str()))
        .unwrap_or_default();
    format!("sealpost-logs-{from}-{}{document}.zip", compact(scope.to))
}
