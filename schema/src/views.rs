//! Viewer attribution (DESIGN.md, "The auditor's report"; migration 0019): which audience
//! record a gateway document request matched, and the vault downloads its handles led to.
//!
//! The gateway hands a [`GatewayView`] over with the request's log record; the repository
//! writes it to `gateway_views` in the transaction that writes the log line, keyed by the
//! line's hit-number. The vault hands over nothing new: its log line already names the handle
//! (`/h/<redacted:NONCE>`), so the repository reads the nonce, status and byte counts back out
//! of the line it is writing (`VaultDownload::of_line`, the 14 columns of DESIGN.md, "Audit
//! logs") and, when the nonce is one a `gateway_views` row issued, writes a `vault_downloads`
//! row in the same transaction. The report and the receipts read only these two tables (and
//! the deliveries): grouped, indexed queries, never the log text.

use chrono::{DateTime, Utc};

use crate::ids::DocumentId;

/// What a document request that matched an audience record came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewOutcome {
    /// The request was answered without a challenge being decided: no challenge (a handle),
    /// credentials asked for, sent to the OAuth provider, refused by a limit.
    Opened,
    /// The challenge passed (a handle was issued).
    Passed,
    /// A wrong guess at the challenge.
    Failed,
}

impl ViewOutcome {
    /// The stored (and reported) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ViewOutcome::Opened => "opened",
            ViewOutcome::Passed => "passed",
            ViewOutcome::Failed => "failed",
        }
    }
}

/// The attribution of one gateway log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayView {
    /// The record's index in the audience (0-based, as a delivery job's `record`).
    pub record: i64,
    pub outcome: ViewOutcome,
    /// The nonce of the handle the request issued (base64url, as the logs show it).
    pub nonce: Option<String>,
    /// The remote-IP column's address.
    pub address: Option<String>,
}

/// A vault GET through a handle that sent content, read back from its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultDownload {
    pub(crate) nonce: String,
    pub(crate) status: i64,
    pub(crate) bytes_sent: i64,
    pub(crate) object_size: Option<i64>,
}

impl VaultDownload {
    /// The download a vault line records: operation `REST.GET.OBJECT`, status 200 or 206, a
    /// request-URI naming a handle's nonce. `None` for every other line.
    pub(crate) fn of_line(fields: &str) -> Option<Self> {
        let columns: Vec<&str> = fields.split('\t').collect();
        let [_, _, _, operation, _, uri, _, status, _, bytes, size, ..] = columns.as_slice() else {
            return None;
        };
        let status: i64 = status.parse().ok()?;
        if *operation != "REST.GET.OBJECT" || !matches!(status, 200 | 206) {
            return None;
        }
        let nonce = uri.split_once("/h/<redacted:")?.1.split_once('>')?.0;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if nonce.is_empty() || !nonce.chars().all(plain) {
            return None;
        }
        Some(Self {
            nonce: nonce.to_owned(),
            status,
            bytes_sent: bytes.parse().ok()?,
            object_size: size.parse().ok(),
        })
    }

    /// Whether every byte of the object went out in one answer.
    pub(crate) fn complete(&self) -> bool {
        self.status == 200 && Some(self.bytes_sent) == self.object_size
    }
}

/// One record's gateway requests, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVisits {
    pub record: i64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Document requests that matched the record, whatever their outcome.
    pub opened: i64,
    pub passed: i64,
    pub failed: i64,
    pub handles: i64,
    /// The address of the record's latest request.
    pub last_address: Option<String>,
}

/// One record's downloads, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDownloads {
    pub record: i64,
    pub complete: i64,
    pub partial: i64,
    pub bytes: i64,
    pub last: DateTime<Utc>,
}

/// One record's delivery: the latest state of its jobs (`sent` over `queued` over `failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDelivery {
    pub record: i64,
    pub status: String,
    /// When the job reached that state (its last update).
    pub time: DateTime<Utc>,
}

/// The grouped rows of a document's report, each list in record order; records without a
/// row in a list had none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewReport {
    pub visits: Vec<RecordVisits>,
    pub downloads: Vec<RecordDownloads>,
    pub deliveries: Vec<RecordDelivery>,
}

/// One gateway request of a record, for its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitEvent {
    pub time: DateTime<Utc>,
    pub hit: i64,
    pub outcome: ViewOutcome,
    pub nonce: Option<String>,
    pub address: Option<String>,
}

/// One download of a record, for its receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadEvent {
    pub time: DateTime<Utc>,
    pub nonce: String,
    pub status: i64,
    pub bytes_sent: i64,
    pub object_size: Option<i64>,
    pub complete: bool,
}

/// Everything one record did with one document, in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordHistory {
    pub visits: Vec<VisitEvent>,
    pub downloads: Vec<DownloadEvent>,
    pub delivery: Option<RecordDelivery>,
}

/// The key a record's rows are stored under.
#[derive(Debug, Clone, Copy)]
pub struct RecordOf<'a> {
    pub document: &'a DocumentId,
    pub record: i64,
}

pub(crate) fn outcome_named(name: &str) -> Option<ViewOutcome> {
    match name {
        "opened" => Some(ViewOutcome::Opened),
        "passed" => Some(ViewOutcome::Passed),
        "failed" => Some(ViewOutcome::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "d\t2026-01-01T00:00:00.000Z\t127.0.0.1\tREST.GET.OBJECT\tk\t\
        \"GET /h/<redacted:AAECAwQFBgcICQoLDA0ODw> HTTP/1.1\"\tHTTP/1.1\t200\t-\t10\t10\t1\t-\t-";

    #[test]
    fn a_download_is_read_back_from_its_line() {
        let download = VaultDownload::of_line(LINE);
        assert_eq!(
            download,
            Some(VaultDownload {
                nonce: "AAECAwQFBgcICQoLDA0ODw".into(),
                status: 200,
                bytes_sent: 10,
                object_size: Some(10),
            })
        );
        assert!(download.is_some_and(|d| d.complete()));
        let partial = LINE.replace("\t10\t10\t", "\t4\t10\t");
        assert!(VaultDownload::of_line(&partial).is_some_and(|d| !d.complete()));
    }

    #[test]
    fn other_lines_are_no_downloads() {
        assert_eq!(
            VaultDownload::of_line(&LINE.replace("\t200\t", "\t403\t")),
            None
        );
        assert_eq!(
            VaultDownload::of_line(&LINE.replace(".GET.", ".HEAD.")),
            None
        );
        assert_eq!(
            VaultDownload::of_line(&LINE.replace("redacted:", "x")),
            None
        );
        assert_eq!(VaultDownload::of_line("a\tb"), None);
        assert_eq!(VaultDownload::of_line(&LINE.replace("AAEC", "A'EC")), None);
    }
}
