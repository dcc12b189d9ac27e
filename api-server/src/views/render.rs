//! The report's rows as JSON or CSV, written a chunk of `CHUNK_ROWS` rows at a time as the
//! response body is read: the grouped rows are merged with the audience in record order by
//! cursors, so nothing but the chunk being written is built.
//!
//! JSON: `{"document": ID, "viewerToken": [FIELD…], "records": [ROW…]}`, a row being
//! `{"record", "viewer": {FIELD: VALUE…}, "delivered": {"time", "status"} | null,
//! "opened": {"count", "first", "last"}, "challenge": {"passed", "failed"}, "handles",
//! "downloads": {"complete", "partial", "bytes", "last"}, "lastAddress"}`.
//! CSV (RFC 4180, CRLF): a header `record,FIELD…,delivered_time,delivered_status,
//! opened_first,opened_last,opened_count,challenge_passed,challenge_failed,handles_issued,
//! downloads_complete,downloads_partial,bytes_sent,last_download,last_address`, then one line
//! per record; an absent value is an empty cell.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use schema::views::{RecordDelivery, RecordDownloads, RecordVisits};
use serde_json::{Value, json};

use super::Report;

/// Rows per body chunk.
const CHUNK_ROWS: usize = 256;

const CSV_COLUMNS: &[&str] = &[
    "delivered_time",
    "delivered_status",
    "opened_first",
    "opened_last",
    "opened_count",
    "challenge_passed",
    "challenge_failed",
    "handles_issued",
    "downloads_complete",
    "downloads_partial",
    "bytes_sent",
    "last_download",
    "last_address",
];

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// One record's row: the merged facts.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub index: usize,
    pub viewer: &'a [String],
    pub visits: Option<&'a RecordVisits>,
    pub downloads: Option<&'a RecordDownloads>,
    pub delivery: Option<&'a RecordDelivery>,
}

/// The body: the report in `format`, chunk by chunk.
pub fn body(report: Arc<Report>, format: Format) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(Cursor::new(report, format), |mut cursor| async move {
        let chunk = cursor.chunk()?;
        Some((Ok(chunk), cursor))
    })
}

/// The lowercase hex SHA-256 of the whole [`body`], written and hashed a chunk at a time and
/// never kept: the answer's signature is over it (DESIGN.md, "Signed responses"), so the
/// body can then stream rather than be held whole by the signing middleware. The same
/// `report` writes the same bytes twice: the rows are read from the database once, before.
/// CPU-bound (about as long as writing the body): call it off the async workers.
pub fn sha256_hex(report: Arc<Report>, format: Format) -> String {
    let mut cursor = Cursor::new(report, format);
    let mut digest = shared::hex::Sha256::new();
    while let Some(chunk) = cursor.chunk() {
        digest.update(&chunk);
    }
    digest.finish_hex()
}

/// Where the writing stands.
struct Cursor {
    report: Arc<Report>,
    format: Format,
    /// The next record index.
    next: usize,
    /// The next entry of the grouped visits, downloads and deliveries.
    positions: [usize; 3],
    started: bool,
    finished: bool,
}

impl Cursor {
    fn new(report: Arc<Report>, format: Format) -> Self {
        Self {
            report,
            format,
            next: 0,
            positions: [0; 3],
            started: false,
            finished: false,
        }
    }

    /// The next chunk; `None` once everything was written.
    fn chunk(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let mut out = String::new();
        if !self.started {
            self.started = true;
            out.push_str(&self.head());
        }
        let end = (self.next + CHUNK_ROWS).min(self.report.viewers.len());
        for index in self.next..end {
            let row = row(&self.report, &mut self.positions, index);
            match self.format {
                Format::Json => {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_row(&row, &self.report.token_fields).to_string());
                }
                Format::Csv => out.push_str(&csv_line(&csv_row(&row))),
            }
        }
        self.next = end;
        if end == self.report.viewers.len() {
            self.finished = true;
            if self.format == Format::Json {
                out.push_str("]}");
            }
        }
        Some(Bytes::from(out))
    }

    fn head(&self) -> String {
        let fields = &self.report.token_fields;
        match self.format {
            Format::Json => {
                let document = Value::String(self.report.document.clone());
                format!(
                    "{{\"document\":{document},\"viewerToken\":{},\"records\":[",
                    json!(fields)
                )
            }
            Format::Csv => {
                let mut header = vec!["record".to_owned()];
                header.extend(fields.iter().cloned());
                header.extend(CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
                csv_line(&header)
            }
        }
    }
}

/// Record `index`'s row, advancing the three cursors (`positions`) past it.
fn row<'a>(report: &'a Report, positions: &mut [usize; 3], index: usize) -> Row<'a> {
    let key = i64::try_from(index).unwrap_or(i64::MAX);
    let grouped = &report.grouped;
    let [visits, downloads, deliveries] = positions;
    Row {
        index,
        viewer: report.viewers.get(index).map_or(&[], Vec::as_slice),
        visits: take(&grouped.visits, visits, key, |v| v.record),
        downloads: take(&grouped.downloads, downloads, key, |d| d.record),
        delivery: take(&grouped.deliveries, deliveries, key, |d| d.record),
    }
}

/// The entry of sorted `list` for record `key`, moving `position` past every entry before it.
fn take<'a, T>(
    list: &'a [T],
    position: &mut usize,
    key: i64,
    record: fn(&T) -> i64,
) -> Option<&'a T> {
    while list.get(*position).is_some_and(|entry| record(entry) < key) {
        *position += 1;
    }
    let entry = list.get(*position).filter(|entry| record(entry) == key)?;
    *position += 1;
    Some(entry)
}

/// RFC 3339 UTC with milliseconds, as the logs write times.
pub fn time(at: DateTime<Utc>) -> String {
    crate::representation::rfc3339(at)
}

pub fn json_row(row: &Row<'_>, fields: &[String]) -> Value {
    let viewer: serde_json::Map<String, Value> = (fields.iter().zip(row.viewer))
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let visits = row.visits;
    let downloads = row.downloads;
    json!({
        "record": row.index,
        "viewer": viewer,
        "delivered": row.delivery.map(|d| json!({"time": time(d.time), "status": d.status})),
        "opened": {
            "count": visits.map_or(0, |v| v.opened),
            "first": visits.map(|v| time(v.first)),
            "last": visits.map(|v| time(v.last)),
        },
        "challenge": {
            "passed": visits.map_or(0, |v| v.passed),
            "failed": visits.map_or(0, |v| v.failed),
        },
        "handles": visits.map_or(0, |v| v.handles),
        "downloads": {
            "complete": downloads.map_or(0, |d| d.complete),
            "partial": downloads.map_or(0, |d| d.partial),
            "bytes": downloads.map_or(0, |d| d.bytes),
            "last": downloads.map(|d| time(d.last)),
        },
        "lastAddress": visits.and_then(|v| v.last_address.clone()),
    })
}

fn csv_row(row: &Row<'_>) -> Vec<String> {
    let count = |n: Option<i64>| n.unwrap_or(0).to_string();
    let (visits, downloads, delivery) = (row.visits, row.downloads, row.delivery);
    let mut cells = vec![row.index.to_string()];
    cells.extend(row.viewer.iter().cloned());
    cells.extend([
        delivery.map(|d| time(d.time)).unwrap_or_default(),
        delivery.map(|d| d.status.clone()).unwrap_or_default(),
        visits.map(|v| time(v.first)).unwrap_or_default(),
        visits.map(|v| time(v.last)).unwrap_or_default(),
        count(visits.map(|v| v.opened)),
        count(visits.map(|v| v.passed)),
        count(visits.map(|v| v.failed)),
        count(visits.map(|v| v.handles)),
        count(downloads.map(|d| d.complete)),
        count(downloads.map(|d| d.partial)),
        count(downloads.map(|d| d.bytes)),
        downloads.map(|d| time(d.last)).unwrap_or_default(),
        visits
            .and_then(|v| v.last_address.clone())
            .unwrap_or_default(),
    ]);
    cells
}

/// One CSV line (CRLF): a cell holding a comma, quote, CR or LF is quoted, quotes doubled.
fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|cell| {
            if cell.contains([',', '"', '\r', '\n']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.clone()
            }
        })
        .collect();
    format!("{}\r\n", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_only_when_needed() {
        let cells = ["a".to_owned(), "b,c".to_owned(), "say \"hi\"".to_owned()];
        assert_eq!(csv_line(&cells), "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
    }

    #[test]
    fn take_skips_records_before_and_keeps_records_after() {
        let list = [1_i64, 3, 4];
        let mut position = 0;
        assert_eq!(take(&list, &mut position, 0, |r| *r), None);
        assert_eq!(take(&list, &mut position, 1, |r| *r), Some(&1));
        assert_eq!(take(&list, &mut position, 2, |r| *r), None);
        assert_eq!(take(&list, &mut position, 3, |r| *r), Some(&3));
        assert_eq!(position, 2);
    }
}
