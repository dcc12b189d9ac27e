//! Audit-log exports: the zip `GET /logs` answers and `sealpost logs verify` checks.
//!
//! An export is a self-contained, offline-verifiable record of one producer's audit logs over a
//! time range, optionally for one document. Entries, in this order:
//!
//! | entry | content |
//! | --- | --- |
//! | `{api,gateway,vault}.log` | the stored lines, one per record, each ended by `\n` |
//! | `{api,gateway,vault}.chain` | per line of the log, same order: `prev<TAB>chain\n` |
//! | `manifest.json` | per log: SHA-256s, count, first `prev`, head; the scope ([`Manifest`]) |
//! | `manifest.sig` | Ed25519 by the instance key over `manifest.json` ([`ManifestSignature`]) |
//!
//! Every stored line carries `chain = hex(SHA-256(prev ‖ "\n" ‖ line))` ([`schema::audit`]),
//! with `prev` the `chain` of the producer's previous line in that log. So a line altered after
//! it was written no longer matches its chain, and in a whole-producer export a removed or
//! inserted line breaks the links. A document's lines are not consecutive in the producer's
//! chain; there the per-document hit number (API and gateway logs) must run without gaps or
//! repeats instead. The signed manifest pins the files, counts and chain ends, so a saved zip
//! verifies offline against the instance's published key ([`KeySet`],
//! `GET /.well-known/sealpost-keys`).
//!
//! # Layout
//! - [`manifest`]: `manifest.json` and `manifest.sig`.
//! - [`write`](mod@write): [`ExportWriter`], which streams the logs into a zip in constant memory.
//! - [`verify`](mod@verify): [`verify()`], the offline check `sealpost logs verify` runs.
//!
//! The zip is self-signed: `GET /logs` streams it as [`ExportWriter`] writes it (the manifest
//! last) and sends no signed-response headers; the key set is [`crate::published_keys`].

pub mod manifest;
pub mod verify;
pub mod write;

pub use manifest::{KeySet, LogSummary, Manifest, ManifestSignature, PublishedKey};
pub use verify::{RecordProblem, Report, VerifyError, verify};
pub use write::{ExportError, ExportWriter};

use schema::LogKind;

/// `manifest.json`.
pub const MANIFEST: &str = "manifest.json";
/// `manifest.sig`.
pub const SIGNATURE: &str = "manifest.sig";
/// The value of the manifest's `format` member.
pub const FORMAT: &str = "sealpost-logs/1";

/// `api.log`, `gateway.log` or `vault.log`.
pub fn log_file(kind: LogKind) -> String {
    format!("{}.log", kind.name())
}

/// `api.chain`, `gateway.chain` or `vault.chain`.
pub fn chain_file(kind: LogKind) -> String {
    format!("{}.chain", kind.name())
}

/// The 0-based column holding the per-document hit number, for the logs that have one
/// (DESIGN.md: the 8th column of the API and gateway logs; the vault log has none).
pub fn hit_column(kind: LogKind) -> Option<usize> {
    match kind {
        LogKind::Api | LogKind::Gateway => Some(7),
        LogKind::Vault => None,
    }
}

pub use crate::hex::{hex, sha256_hex};

#[cfg(test)]
mod tests;
