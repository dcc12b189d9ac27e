//! [`ExportWriter`]: the logs, their chains, the manifest and its signature, streamed into a
//! zip in constant memory.
//!
//! A zip entry must be written in one piece, and the chain files come after all three logs, so
//! each log's `prev<TAB>chain` lines go to an unnamed temporary file (in `spool_dir`, gone
//! when closed, also after a crash) while its lines stream into the zip, and are copied in
//! once the logs are written. Entries are deflated and use data descriptors (sizes and CRC
//! after the data), so nothing is held back to know a size first.

use std::io::SeekFrom;
use std::path::PathBuf;

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipEntryBuilder};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::{Stream, StreamExt as _};
use ring::digest::{Context, SHA256};
use schema::{DocumentId, LogKind, LogLine, ProducerId, RepoError};
use tokio::io::{AsyncSeekExt as _, AsyncWrite, AsyncWriteExt as _, BufReader, BufWriter};
use tokio_util::compat::{Compat, FuturesAsyncWriteCompatExt as _};

use super::manifest::{LogSummary, Manifest, ManifestSignature};
use super::{FORMAT, MANIFEST, SIGNATURE, chain_file, hex, log_file};
use crate::keys::SigningKey;

/// Lines are handed to the compressor in chunks of about this size, and the temporary chain
/// files are written and read in blocks of [`SPOOL_BUFFER`] (tokio hands every file operation
/// to a blocking thread, so small ones are costly).
const CHUNK: usize = 64 * 1024;
pub const SPOOL_BUFFER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the log failed")]
    Source(#[from] RepoError),
    #[error("writing the zip failed")]
    Zip(#[from] async_zip::error::ZipError),
    #[error("writing the export failed")]
    Io(#[from] std::io::Error),
    #[error("encoding the manifest failed")]
    Json(#[from] serde_json::Error),
}

/// What an export covers (recorded in the manifest).
#[derive(Debug, Clone)]
pub struct Scope {
    pub producer: ProducerId,
    pub document: Option<DocumentId>,
    /// `None`: from the beginning.
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
}

/// A log written into the zip, its chain lines waiting in a temporary file.
struct Written {
    summary: LogSummary,
    chains: tokio::fs::File,
}

/// Writes one export to `W`: call [`write_log`](Self::write_log) for each log (api, gateway,
/// vault, in that order), then [`finish`](Self::finish).
pub struct ExportWriter<W: AsyncWrite + Unpin> {
    zip: ZipFileWriter<Compat<W>>,
    scope: Scope,
    spool_dir: PathBuf,
    written: Vec<Written>,
}

impl<W: AsyncWrite + Unpin> ExportWriter<W> {
    /// `spool_dir` holds the temporary chain files (unnamed: nothing is left behind).
    pub fn new(out: W, scope: Scope, spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            zip: ZipFileWriter::with_tokio(out),
            scope,
            spool_dir: spool_dir.into(),
            written: Vec::new(),
        }
    }

    fn entry(&self, name: String) -> ZipEntryBuilder {
        ZipEntryBuilder::new(name.into(), Compression::Deflate)
            .last_modification_date(ZipDateTime::from_chrono(&self.scope.generated_at))
            .unix_permissions(0o644)
    }

    /// Streams `lines` (in chain order) into `{log}.log`, and their chain values aside.
    pub async fn write_log<S>(&mut self, kind: LogKind, lines: S) -> Result<(), ExportError>
    where
        S: Stream<Item = Result<LogLine, RepoError>>,
    {
        let spool = tempfile::tempfile_in(&self.spool_dir)?;
        let mut chains = BufWriter::with_capacity(SPOOL_BUFFER, tokio::fs::File::from_std(spool));
        let mut chain_digest = Context::new(&SHA256);
        let mut log_digest = Context::new(&SHA256);
        let mut records = 0_u64;
        let mut first_prev = None;
        let mut head = None;
        let mut chunk = Vec::with_capacity(CHUNK + 1024);

        let entry = self.entry(log_file(kind));
        let mut out = self.zip.write_entry_stream(entry).await?.compat_write();
        let mut lines = std::pin::pin!(lines);
        while let Some(line) = lines.next().await {
            let line = line?;
            chunk.extend_from_slice(line.fields.as_bytes());
            chunk.push(b'\n');
            if chunk.len() >= CHUNK {
                log_digest.update(&chunk);
                out.write_all(&chunk).await?;
                chunk.clear();
            }
            let chain_line = format!("{}\t{}\n", line.prev, line.chain);
            chain_digest.update(chain_line.as_bytes());
            chains.write_all(chain_line.as_bytes()).await?;
            records += 1;
            first_prev.get_or_insert(line.prev);
            head = Some(line.chain);
        }
        log_digest.update(&chunk);
        out.write_all(&chunk).await?;
        out.into_inner().close().await?;
        chains.flush().await?;

        self.written.push(Written {
            summary: LogSummary {
                log: kind.name().to_owned(),
                file: log_file(kind),
                sha256: hex(log_digest.finish().as_ref()),
                chain_file: chain_file(kind),
                chain_sha256: hex(chain_digest.finish().as_ref()),
                records,
                first_prev,
                head,
            },
            chains: chains.into_inner(),
        });
        Ok(())
    }

    /// Copies the chain files in, writes and signs the manifest, and closes the zip. Returns
    /// the writer and the manifest.
    pub async fn finish(mut self, key: &SigningKey) -> Result<(W, Manifest), ExportError> {
        let written = std::mem::take(&mut self.written);
        let mut logs = Vec::with_capacity(written.len());
        for Written {
            summary,
            mut chains,
        } in written
        {
            chains.seek(SeekFrom::Start(0)).await?;
            let entry = self.entry(summary.chain_file.clone());
            let mut out = self.zip.write_entry_stream(entry).await?.compat_write();
            let mut chains = BufReader::with_capacity(SPOOL_BUFFER, chains);
            tokio::io::copy_buf(&mut chains, &mut out).await?;
            out.into_inner().close().await?;
            logs.push(summary);
        }

        let manifest = Manifest {
            format: FORMAT.to_owned(),
            producer_id: self.scope.producer.as_str().to_owned(),
            doc_id: self
                .scope
                .document
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            from: self.scope.from.map(rfc3339),
            to: rfc3339(self.scope.to),
            generated_at: rfc3339(self.scope.generated_at),
            key_id: key.key_id(),
            logs,
        };
        let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
        manifest_bytes.push(b'\n');
        let mut signature =
            serde_json::to_vec_pretty(&ManifestSignature::sign(key, &manifest_bytes))?;
        signature.push(b'\n');
        let entry = self.entry(MANIFEST.to_owned());
        self.zip.write_entry_whole(entry, &manifest_bytes).await?;
        let entry = self.entry(SIGNATURE.to_owned());
        self.zip.write_entry_whole(entry, &signature).await?;
        let mut out = self.zip.close().await?.into_inner();
        out.flush().await?;
        Ok((out, manifest))
    }
}

/// RFC 3339 UTC with milliseconds, as in the logs.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}
