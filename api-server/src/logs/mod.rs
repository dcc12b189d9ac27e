//! `GET /logs{/docId}`: a producer's audit logs as a signed zip ([`shared::logzip`] has the
//! format and the offline verifier).
//!
//! The zip is streamed as it is written ([`stream::ZipBody`]): each log's lines go from the
//! database into a deflated entry with a data descriptor, its SHA-256, count and chain head
//! taken on the way, and `manifest.json` and `manifest.sig` come last, so the first byte leaves
//! at once and memory stays constant. The export is signed inside the zip (`manifest.sig`), not
//! by response headers, which would have to cover the digest of a body not yet written
//! (DESIGN.md, "Signed responses"). Only the chain files wait on disk (unnamed temporary files
//! in the data directory) until the logs are written. A failure mid-export cuts the
//! connection before any manifest is written, so no truncated export verifies.

pub mod range;
pub mod retention;
pub mod stream;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _};
use schema::{DocumentId, LogKind, Repository, Tenant};
use shared::logzip::write::Scope;
use shared::logzip::{ExportError, ExportWriter};
use tokio::io::DuplexStream;

pub use range::Range;

use crate::context::ApiContext;
use crate::error::ApiError;
use crate::signer::Signer;

/// What `GET /logs` needs beyond the repository: the signer of exports (the instance key,
/// which signs `manifest.json`), and where the chain files wait.
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

/// The zip's bytes as they are written; ends in an error (and a cut connection) if the
/// export fails.
pub type Body = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>>>>;

/// An export under way, ready to stream.
pub struct Export {
    pub body: Body,
    /// `sealpost-logs-<from>-<to>[-<docId>].zip`.
    pub file_name: String,
}

/// Starts `tenant`'s export over `range`, for one document when `document` is given: the
/// lines of its environment only (see [`schema::LogRepo::export_log`]; lines naming no
/// document are live lines). Waits for the first bytes only, so that a failure before them
/// (the data directory unwritable, say) is still an error response.
pub async fn export(
    context: &ApiContext,
    tenant: &Tenant,
    document: Option<DocumentId>,
    range: Range,
) -> Result<Export, ApiError> {
    let scope = Scope {
        producer: tenant.producer.clone(),
        document,
        from: range.from,
        to: range.to,
        generated_at: Utc::now(),
    };
    let file_name = file_name(&scope);
    let job = Job {
        repo: context.repo.clone(),
        tenant: tenant.clone(),
        signer: context.logs.signer.clone(),
        spool_dir: context.logs.spool_dir.clone(),
    };
    let mut zip = stream::ZipBody::new(move |out| job.write_zip(scope, out));
    let first = zip.next().await.transpose().map_err(ApiError::internal)?;
    let body = futures_util::stream::iter(first.map(Ok)).chain(zip);
    Ok(Export {
        body: Box::pin(body),
        file_name,
    })
}

/// What an export's writer owns (it outlives the handler, in the response body).
struct Job {
    repo: Arc<dyn Repository>,
    tenant: Tenant,
    signer: Signer,
    spool_dir: PathBuf,
}

impl Job {
    /// Streams the three logs in `scope` into a zip written to `out`, then signs its manifest.
    async fn write_zip(self, scope: Scope, out: DuplexStream) -> Result<(), ExportError> {
        let document = scope.document.clone();
        let (from, to) = (scope.from.unwrap_or(DateTime::UNIX_EPOCH), scope.to);
        let mut writer = ExportWriter::new(out, scope, &self.spool_dir);
        for kind in LogKind::ALL {
            let lines = self
                .repo
                .export_log(kind, &self.tenant, document.as_ref(), from, to);
            writer.write_log(kind, lines).await?;
        }
        let (_, manifest) = writer.finish(self.signer.key()).await?;
        tracing::info!(
            producer = self.tenant.producer.as_str(),
            environment = self.tenant.environment.as_str(),
            document = document.as_ref().map(DocumentId::as_str),
            records = manifest.logs.iter().map(|log| log.records).sum::<u64>(),
            "logs exported"
        );
        Ok(())
    }
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
