//! What both dialects share for the three audit logs (migration 0006): the stored lines of the
//! API log, hit numbering (API and gateway logs), the hash chains (the rule itself is
//! [`crate::audit::chain`]), the per-log SQL text and the row → [`LogLine`] mapping.
//!
//! An append, in either dialect, inside one transaction:
//! 1. (API and gateway logs) advance each named document's hit counter, in document-id order,
//!    and number the records ([`hits_per_document`], [`number_records`]);
//! 2. lock and read the head of every chain the batch touches, in key order
//!    ([`chain_keys`]; an upsert on `log_heads` that holds the row lock until the commit), so
//!    concurrent writers of one chain queue up instead of forking it;
//! 3. link the lines ([`link`]), insert them (after taking the locks, so their `seq` follows
//!    every line of the chain written before), and write the new heads back.
//!
//! Lock order is always hit counters (by document id), then chain heads (by key), so two
//! batches can wait for each other but never deadlock.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::audit::{GENESIS, chain};
use crate::codec::{Columns, millis};
use crate::ids::{DocumentId, ProducerId};
use crate::model::{ApiLogRecord, GatewayLogRecord, LogKind, LogLine, PurgedLines, VaultLogRecord};
use crate::repo::RepoError;

/// A static SQL text naming one log's tables: `log_sql!(kind, "SELECT … FROM " log " WHERE …")`
/// where the bare word `log` becomes `api_log`, `gateway_log` or `vault_log`, `hits` becomes
/// `api_hits`, `gateway_hits` (and `vault_hits`, which does not exist: the vault log has no hit
/// numbers) and `columns` the columns [`log_line`] reads. Only constant text reaches the SQL.
macro_rules! log_sql {
    ($kind:expr, $($piece:tt)+) => {
        match $kind {
            $crate::model::LogKind::Api => $crate::log_codec::log_sql!(@join "api"; $($piece)+),
            $crate::model::LogKind::Gateway => {
                $crate::log_codec::log_sql!(@join "gateway"; $($piece)+)
            }
            $crate::model::LogKind::Vault => $crate::log_codec::log_sql!(@join "vault"; $($piece)+),
        }
    };
    (@join $name:literal; $($piece:tt)+) => {
        concat!($($crate::log_codec::log_sql!(@piece $name; $piece)),+)
    };
    (@piece $name:literal; log) => { concat!($name, "_log") };
    (@piece $name:literal; hits) => { concat!($name, "_hits") };
    (@piece $name:literal; columns) => { $crate::log_codec::log_line_columns!() };
    (@piece $name:literal; $text:literal) => { $text };
}
pub(crate) use log_sql;

/// The columns [`log_line`] reads.
macro_rules! log_line_columns {
    () => {
        "seq, producer_id, document_id, time, fields, prev, chain"
    };
}
pub(crate) use log_line_columns;

/// Rows a purge deletes per statement (and transaction), so a large purge never holds
/// SQLite's write lock long enough to make a concurrent append time out.
pub(crate) const PURGE_CHUNK: i64 = 5_000;

/// Adds one purge chunk's deleted rows (their `producer_id`s) to `purged`.
pub(crate) fn tally(
    purged: &mut PurgedLines,
    producers: Vec<Option<String>>,
) -> Result<(), RepoError> {
    for producer in producers {
        let producer = producer
            .map(|id| ProducerId::parse(&id))
            .transpose()
            .map_err(|_| RepoError::Corrupt("a log line's producer_id".into()))?;
        *purged.entry(producer).or_default() += 1;
    }
    Ok(())
}

/// Old rows the migration chains per round trip.
pub(crate) const BACKFILL_PAGE: i64 = 2_000;

/// The chain key of lines without a producer (`log_heads.producer`).
pub(crate) const NO_PRODUCER: &str = "";

/// What numbering and chaining need from a record of any log.
pub(crate) trait LogEntry {
    fn producer_id(&self) -> Option<&ProducerId>;
    fn document_id(&self) -> Option<&DocumentId>;
    fn time(&self) -> DateTime<Utc>;
}

macro_rules! log_entry {
    ($($record:ty),+) => {$(
        impl LogEntry for $record {
            fn producer_id(&self) -> Option<&ProducerId> {
                self.producer_id.as_ref()
            }
            fn document_id(&self) -> Option<&DocumentId> {
                self.document_id.as_ref()
            }
            fn time(&self) -> DateTime<Utc> {
                self.time
            }
        }
    )+};
}
log_entry!(ApiLogRecord, GatewayLogRecord, VaultLogRecord);

/// The stored API line: the record's seven columns, hit-number and publisher-id (`-` when
/// absent), then the tail.
pub(crate) fn api_fields(record: &ApiLogRecord, hit: Option<i64>) -> String {
    let hit = hit.map_or_else(|| "-".to_owned(), |hit| hit.to_string());
    let producer = record.producer_id.as_ref().map_or("-", |id| id.as_str());
    format!("{}\t{hit}\t{producer}\t{}", record.head, record.tail)
}

/// The vault line is stored as the vault formatted it.
pub(crate) fn vault_fields(record: &VaultLogRecord, _hit: Option<i64>) -> String {
    record.fields.clone()
}

/// How many records of a batch name each document, by document id. The dialects advance the
/// counters in this (id) order, so two batches naming the same documents lock the counter rows
/// in the same order and cannot deadlock each other.
pub(crate) fn hits_per_document<R: LogEntry>(records: &[R]) -> BTreeMap<&str, i64> {
    let mut counts = BTreeMap::new();
    for id in records.iter().filter_map(LogEntry::document_id) {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Numbers the records in order, given each document's counter after the batch (`totals`)
/// and how many of the batch's records name it (`counts`, from [`hits_per_document`]).
pub(crate) fn number_records<R: LogEntry>(
    records: &[R],
    counts: &BTreeMap<&str, i64>,
    totals: &BTreeMap<&str, i64>,
) -> Result<Vec<Option<i64>>, RepoError> {
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    for (&id, &count) in counts {
        let total = totals
            .get(id)
            .ok_or_else(|| RepoError::Corrupt("hit counter missing".to_owned()))?;
        next.insert(id, total - count + 1);
    }
    Ok(records
        .iter()
        .map(|record| {
            let slot = next.get_mut(record.document_id()?.as_str())?;
            let hit = *slot;
            *slot += 1;
            Some(hit)
        })
        .collect())
}

/// A line about to be inserted; `prev` and `chain` are set by [`link`].
#[derive(Debug)]
pub struct NewLine<'r> {
    pub(crate) producer_id: Option<&'r str>,
    pub(crate) document_id: Option<&'r str>,
    pub(crate) time: i64,
    pub(crate) hit: Option<i64>,
    pub(crate) fields: String,
    pub(crate) prev: String,
    pub(crate) chain: String,
}

/// The batch's lines, unlinked: `fields(record, hit)` is each record's stored line; `hits`
/// holds one entry per record (`None` for the vault log).
pub(crate) fn new_lines<'r, R: LogEntry>(
    records: &'r [R],
    hits: &[Option<i64>],
    fields: fn(&R, Option<i64>) -> String,
) -> Vec<NewLine<'r>> {
    records
        .iter()
        .zip(hits)
        .map(|(record, &hit)| NewLine {
            producer_id: record.producer_id().map(ProducerId::as_str),
            document_id: record.document_id().map(DocumentId::as_str),
            time: millis(record.time()),
            hit,
            fields: fields(record, hit),
            prev: String::new(),
            chain: String::new(),
        })
        .collect()
}

/// The chain key of a line: its producer id, or [`NO_PRODUCER`].
pub(crate) fn chain_key(producer_id: Option<&str>) -> &str {
    producer_id.unwrap_or(NO_PRODUCER)
}

/// The chains a batch touches, in the order their heads must be locked.
pub(crate) fn chain_keys<'a>(lines: &[NewLine<'a>]) -> BTreeSet<&'a str> {
    lines
        .iter()
        .map(|line| chain_key(line.producer_id))
        .collect()
}

/// One chain's head: the `chain` of its last line ([`GENESIS`] before the first) and how many
/// lines it holds (purged ones included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) head: String,
    pub(crate) count: i64,
}

impl Head {
    pub(crate) fn genesis() -> Self {
        Head {
            head: GENESIS.to_owned(),
            count: 0,
        }
    }

    /// Appends a line: returns its `(prev, chain)` and makes it the head.
    pub(crate) fn advance(&mut self, fields: &str) -> (String, String) {
        let next = chain(&self.head, fields);
        self.count += 1;
        (std::mem::replace(&mut self.head, next.clone()), next)
    }
}

/// A `log_heads` row (`head`, `count`).
pub(crate) fn head(row: &impl Columns) -> Result<Head, RepoError> {
    Ok(Head {
        head: row.text("head")?,
        count: row.int("count")?,
    })
}

/// Sets every line's `prev` and `chain`, in order, advancing `heads` (which must hold each
/// of the batch's [`chain_keys`]).
pub(crate) fn link(
    lines: &mut [NewLine<'_>],
    heads: &mut BTreeMap<String, Head>,
) -> Result<(), RepoError> {
    for line in lines {
        let head = heads
            .get_mut(chain_key(line.producer_id))
            .ok_or_else(|| RepoError::Corrupt("log_heads: chain head missing".to_owned()))?;
        (line.prev, line.chain) = head.advance(&line.fields);
    }
    Ok(())
}

/// Chains a page of rows written before migration 0006 (`(seq, producer_id, fields)` in seq
/// order), advancing `heads` (missing chains start at [`GENESIS`]); returns `(seq, prev, chain)`
/// per row.
pub(crate) fn chain_old_rows(
    rows: &[(i64, Option<String>, String)],
    heads: &mut BTreeMap<String, Head>,
) -> Vec<(i64, String, String)> {
    rows.iter()
        .map(|(seq, producer, fields)| {
            let head = heads
                .entry(chain_key(producer.as_deref()).to_owned())
                .or_insert_with(Head::genesis);
            let (prev, chain) = head.advance(fields);
            (*seq, prev, chain)
        })
        .collect()
}

/// A row to chain: `(seq, producer_id, fields)`, the producer id as stored (not parsed: a
/// malformed one still gets its chain).
pub(crate) fn old_row(row: &impl Columns) -> Result<(i64, Option<String>, String), RepoError> {
    Ok((
        row.int("seq")?,
        row.opt_text("producer_id")?,
        row.text("fields")?,
    ))
}

/// The log named in `log_heads` / `log_backfill`.
pub(crate) fn kind_named(name: &str) -> Result<LogKind, RepoError> {
    LogKind::ALL
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(|| RepoError::Corrupt(format!("unknown log {name:?}")))
}

/// One exported line (columns of `log_line_columns!`). A row written without a chain reads
/// with empty `prev` and `chain`.
pub(crate) fn log_line(row: &impl Columns) -> Result<LogLine, RepoError> {
    Ok(LogLine {
        seq: row.int("seq")?,
        producer_id: row.opt_id("producer_id")?,
        document_id: row.opt_id("document_id")?,
        time: row.time("time")?,
        fields: row.text("fields")?,
        prev: row.opt_text("prev")?.unwrap_or_default(),
        chain: row.opt_text("chain")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(doc: Option<&DocumentId>, producer: Option<&ProducerId>) -> GatewayLogRecord {
        GatewayLogRecord {
            producer_id: producer.cloned(),
            document_id: doc.cloned(),
            time: DateTime::UNIX_EPOCH,
            head: String::new(),
        }
    }

    #[test]
    fn records_are_numbered_per_document_in_order() {
        let a = DocumentId::random();
        let b = DocumentId::random();
        let records = [
            record(Some(&a), None),
            record(None, None),
            record(Some(&b), None),
            record(Some(&a), None),
        ];
        let counts = hits_per_document(&records);
        let totals = BTreeMap::from([(a.as_str(), 7), (b.as_str(), 1)]);
        assert_eq!(
            number_records(&records, &counts, &totals).ok(),
            Some(vec![Some(6), None, Some(1), Some(7)])
        );
    }

    #[test]
    fn lines_link_per_producer_from_their_heads() {
        let p = ProducerId::random();
        let q = ProducerId::random();
        let records = [
            record(None, Some(&p)),
            record(None, None),
            record(None, Some(&q)),
            record(None, Some(&p)),
        ];
        let mut lines = new_lines(&records, &[None; 4], |_, _| "x".to_owned());
        assert_eq!(chain_keys(&lines).into_iter().collect::<Vec<_>>(), {
            let mut keys = vec![NO_PRODUCER, p.as_str(), q.as_str()];
            keys.sort_unstable();
            keys
        });
        let before_p = Head {
            head: "ab".repeat(32),
            count: 3,
        };
        let mut heads = BTreeMap::from([
            (p.to_string(), before_p.clone()),
            (q.to_string(), Head::genesis()),
            (NO_PRODUCER.to_owned(), Head::genesis()),
        ]);
        link(&mut lines, &mut heads).ok();
        assert_eq!(lines[0].prev, before_p.head);
        assert_eq!(lines[0].chain, chain(&before_p.head, "x"));
        assert_eq!(lines[3].prev, lines[0].chain);
        assert_eq!(lines[1].prev, GENESIS);
        assert_eq!(lines[2].prev, GENESIS);
        assert_eq!(
            heads.get(p.as_str()),
            Some(&Head {
                head: lines[3].chain.clone(),
                count: 5
            })
        );
        let mut unknown = new_lines(&records[..1], &[None], |_, _| String::new());
        assert!(link(&mut unknown, &mut BTreeMap::new()).is_err());
    }

    #[test]
    fn api_lines_have_ten_columns() {
        let p = ProducerId::random();
        let record = ApiLogRecord {
            producer_id: Some(p.clone()),
            document_id: None,
            time: DateTime::UNIX_EPOCH,
            head: "a\tb\tc\td\te\tf\tg".to_owned(),
            tail: "op@example.com".to_owned(),
        };
        let line = api_fields(&record, Some(3));
        assert_eq!(line, format!("a\tb\tc\td\te\tf\tg\t3\t{p}\top@example.com"));
        assert_eq!(line.split('\t').count(), 10);
    }
}
