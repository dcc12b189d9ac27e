//! [`verify()`]: the offline check of a saved export, as `sealpost logs verify` runs it.
//!
//! In order, stopping at the first failure: the zip holds exactly the expected entries, once
//! each; `manifest.sig` verifies over the bytes of `manifest.json` with a key of the given set;
//! the manifest is well-formed and names the three logs; then for each log (api, gateway,
//! vault) every line against its chain (the private `walk` module), the head and record
//! count, and last the SHA-256 of both files. Line-level checks come before the file digests,
//! so that a change is reported as the record it touched, not only as a file that no longer
//! matches.

mod walk;

use std::fmt;
use std::path::Path;

use async_zip::base::read1::ZipOptions;
use async_zip::base::read1::seek::ZipArchiveReader;
use schema::LogKind;
use tokio::io::{AsyncReadExt as _, BufReader};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt as _, TokioAsyncReadCompatExt as _};

use super::manifest::{ED25519, KeySet, Manifest, ManifestSignature, SignatureError};
use super::write::SPOOL_BUFFER;
use super::{FORMAT, MANIFEST, SIGNATURE, chain_file, hit_column, log_file};

/// `manifest.json` and `manifest.sig` larger than this are refused, not read into memory.
const MAX_MANIFEST: u64 = 1 << 20;

/// What is wrong with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordProblem {
    /// The line does not hash to its chain value.
    Altered,
    /// One or more lines are missing before this one.
    Removed,
    /// Lines are missing after this one, the last left (0: every line).
    RemovedAtEnd,
    /// This line was not in the log.
    Inserted,
    /// The line was stored without a chain value.
    Unchained,
    /// A chain-file line is not `prev<TAB>chain`.
    Malformed,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("not a readable zip")]
    Zip(#[from] async_zip::error::ZipError),
    #[error("reading the zip failed")]
    Io(#[from] std::io::Error),
    #[error("the zip has no {0}")]
    Missing(String),
    #[error("the zip holds {0} more than once")]
    Duplicate(String),
    #[error("the zip holds an unexpected entry {0:?}")]
    Unexpected(String),
    #[error("{0} is larger than {MAX_MANIFEST} bytes")]
    TooLarge(&'static str),
    #[error("manifest.sig is malformed: {0}")]
    SignatureFormat(String),
    #[error("manifest.sig: {0} (manifest.json was changed, or another key signed it)")]
    Signature(SignatureError),
    #[error("manifest.json is malformed: {0}")]
    ManifestFormat(String),
    #[error("{}", record_message(.file, *.line, *.problem))]
    Record {
        file: String,
        line: u64,
        problem: RecordProblem,
    },
    #[error("{file}: {found} records, the manifest says {expected}")]
    Count {
        file: String,
        found: u64,
        expected: u64,
    },
    #[error("{file}: its SHA-256 does not match the manifest")]
    Digest { file: String },
}

fn record_message(file: &str, line: u64, problem: RecordProblem) -> String {
    match problem {
        RecordProblem::Altered => format!("{file} line {line}: altered"),
        RecordProblem::Removed => format!("{file}: removed before line {line}"),
        RecordProblem::RemovedAtEnd if line == 0 => format!("{file}: every line removed"),
        RecordProblem::RemovedAtEnd => format!("{file}: removed after line {line}, the last"),
        RecordProblem::Inserted => format!("{file}: inserted at line {line}"),
        RecordProblem::Unchained => format!("{file} line {line}: stored without a hash chain"),
        RecordProblem::Malformed => format!("{file} line {line}: not prev<TAB>chain"),
    }
}

/// A verified export.
#[derive(Debug, Clone)]
pub struct Report {
    pub manifest: Manifest,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        writeln!(
            f,
            "verified: signed by key {}; producer {}, {}, {} to {} (generated {})",
            m.key_id,
            m.producer_id,
            m.doc_id
                .as_deref()
                .map_or_else(|| "all documents".to_owned(), |id| format!("document {id}")),
            m.from.as_deref().unwrap_or("the beginning"),
            m.to,
            m.generated_at,
        )?;
        for log in &m.logs {
            let start = match log.first_prev.as_deref() {
                None => "",
                Some(prev) if prev == schema::audit::GENESIS => ", from the chain's start",
                Some(_) => ", from within the chain",
            };
            write!(f, "  {}: {} records{start}", log.file, log.records)?;
            if let Some(head) = &log.head {
                write!(f, ", head {head}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

type Reader = ZipArchiveReader<Compat<BufReader<tokio::fs::File>>>;

/// Checks the export saved at `path` against `keys`.
pub async fn verify(path: &Path, keys: &KeySet) -> Result<Report, VerifyError> {
    let mut zip = open(path).await?;
    let indexes = entry_indexes(&zip)?;
    let manifest = signed_manifest(&mut zip, indexes[6], indexes[7], keys).await?;
    for (position, (kind, summary)) in LogKind::ALL.iter().zip(&manifest.logs).enumerate() {
        let expect = walk::Expect {
            file: &summary.file,
            chain_file: &summary.chain_file,
            linked: manifest.doc_id.is_none(),
            hit_column: manifest.doc_id.as_ref().and(hit_column(*kind)),
            records: summary.records,
            first_prev: summary.first_prev.as_deref(),
            head: summary.head.as_deref(),
        };
        // The two entries are read side by side, each through its own file handle.
        let file = tokio::fs::File::open(path).await?;
        let mut chain_zip = ZipArchiveReader::new_with_inner(buffered(file), zip.inner().clone());
        let log = zip.file(indexes[2 * position]).await?;
        let chain = chain_zip.file(indexes[2 * position + 1]).await?;
        let log = BufReader::new(log.compat());
        let walked = walk::walk(log, BufReader::new(chain.compat()), &expect).await?;
        if walked.records != summary.records {
            return Err(VerifyError::Count {
                file: summary.file.clone(),
                found: walked.records,
                expected: summary.records,
            });
        }
        for (file, found, expected) in [
            (&summary.file, &walked.log_sha256, &summary.sha256),
            (
                &summary.chain_file,
                &walked.chain_sha256,
                &summary.chain_sha256,
            ),
        ] {
            if found != expected {
                return Err(VerifyError::Digest { file: file.clone() });
            }
        }
    }
    Ok(Report { manifest })
}

/// The index of each expected entry, in this order: api.log, api.chain, gateway.log,
/// gateway.chain, vault.log, vault.chain, the manifest, its signature. Any other entry, or one
/// of these twice, is refused.
fn entry_indexes(zip: &Reader) -> Result<Vec<usize>, VerifyError> {
    let expected: Vec<String> = LogKind::ALL
        .iter()
        .flat_map(|kind| [log_file(*kind), chain_file(*kind)])
        .chain([MANIFEST.to_owned(), SIGNATURE.to_owned()])
        .collect();
    let mut indexes = vec![None; expected.len()];
    for (index, entry) in zip.cdrs().iter().enumerate() {
        let name = String::from_utf8_lossy(entry.insecure_file_name.as_bytes()).into_owned();
        let position = expected
            .iter()
            .position(|expected| *expected == name)
            .ok_or_else(|| VerifyError::Unexpected(name.clone()))?;
        if indexes[position].replace(index).is_some() {
            return Err(VerifyError::Duplicate(name));
        }
    }
    indexes
        .into_iter()
        .zip(expected)
        .map(|(index, name)| index.ok_or(VerifyError::Missing(name)))
        .collect()
}

/// `manifest.json`, once `manifest.sig` verified over its bytes and its content is sound.
async fn signed_manifest(
    zip: &mut Reader,
    manifest_index: usize,
    signature_index: usize,
    keys: &KeySet,
) -> Result<Manifest, VerifyError> {
    let manifest_bytes = read_small(zip, manifest_index, MANIFEST).await?;
    let signature: ManifestSignature =
        serde_json::from_slice(&read_small(zip, signature_index, SIGNATURE).await?)
            .map_err(|error| VerifyError::SignatureFormat(error.to_string()))?;
    if signature.alg != ED25519 {
        let algorithm = SignatureError::Algorithm(signature.alg);
        return Err(VerifyError::Signature(algorithm));
    }
    keys.verify(&signature.key_id, &manifest_bytes, &signature.signature)
        .map_err(VerifyError::Signature)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|error| VerifyError::ManifestFormat(error.to_string()))?;
    check_manifest(&manifest, &signature)?;
    Ok(manifest)
}

async fn open(path: &Path) -> Result<Reader, VerifyError> {
    let file = tokio::fs::File::open(path).await?;
    let options = ZipOptions {
        max_cd_num_files: 64,
        max_uncompressed_size_per_file: u64::MAX,
        max_compressed_size_per_file: u64::MAX,
        ..ZipOptions::untrusted()
    };
    Ok(ZipArchiveReader::open_with_options(buffered(file), options).await?)
}

/// Large reads: tokio hands each file read to a blocking thread.
fn buffered(file: tokio::fs::File) -> Compat<BufReader<tokio::fs::File>> {
    BufReader::with_capacity(SPOOL_BUFFER, file).compat()
}

async fn read_small(
    zip: &mut Reader,
    index: usize,
    name: &'static str,
) -> Result<Vec<u8>, VerifyError> {
    let mut bytes = Vec::new();
    zip.file(index)
        .await?
        .compat()
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(VerifyError::TooLarge(name));
    }
    Ok(bytes)
}

/// The manifest is this format, signed by the key it names, and lists the three logs in order
/// under their file names.
fn check_manifest(manifest: &Manifest, signature: &ManifestSignature) -> Result<(), VerifyError> {
    let wrong = |detail: String| Err(VerifyError::ManifestFormat(detail));
    if manifest.format != FORMAT {
        return wrong(format!("format {:?}, expected {FORMAT:?}", manifest.format));
    }
    if manifest.key_id != signature.key_id {
        return wrong("its keyId is not the key that signed it".to_owned());
    }
    let names: Vec<(&str, &str, &str)> = manifest
        .logs
        .iter()
        .map(|log| (log.log.as_str(), log.file.as_str(), log.chain_file.as_str()))
        .collect();
    let expected: Vec<(String, String, String)> = LogKind::ALL
        .iter()
        .map(|kind| (kind.name().to_owned(), log_file(*kind), chain_file(*kind)))
        .collect();
    let same = names.len() == expected.len()
        && names
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    if !same {
        return wrong("its logs are not api, gateway and vault, in that order".to_owned());
    }
    Ok(())
}
