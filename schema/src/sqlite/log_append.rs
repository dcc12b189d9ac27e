//! The statements of one audit-log append on the log writer's own connection
//! ([`super::log_writer`]): the same steps, order and SQL as the sqlx path in `crate::sql::logs`
//! (hit counters by document id, chain heads by key, the lines, the new heads), run in the
//! caller's open transaction with cached prepared statements.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rusqlite::Connection;

use crate::log_codec::{self as lc, Head, LogEntry, NewLine, log_sql};
use crate::model::LogKind;
use crate::repo::RepoError;
use crate::views::{GatewayView, VaultDownload};

/// Why a transaction of the log writer failed.
#[derive(Debug)]
pub(super) enum Failed {
    Sql(rusqlite::Error),
    Repo(RepoError),
    Other(String),
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::Sql(error) => write!(f, "SQLite: {error}"),
            Failed::Repo(error) => write!(f, "{error}"),
            Failed::Other(message) => f.write_str(message),
        }
    }
}

impl From<rusqlite::Error> for Failed {
    fn from(error: rusqlite::Error) -> Self {
        Failed::Sql(error)
    }
}

impl Failed {
    /// Whether another connection held the write lock past the busy timeout.
    pub(super) fn is_busy(&self) -> bool {
        matches!(self, Failed::Sql(rusqlite::Error::SqliteFailure(error, _))
            if super::log_writer::busy(error.code))
    }

    /// The error each caller of a failed transaction gets (one each: `RepoError` is not
    /// `Clone`). A rusqlite error is carried as the message of a `sqlx::Error::Io`, as the
    /// repository's error type has a variant for sqlx's errors only.
    pub(super) fn to_repo_error(&self) -> RepoError {
        match self {
            Failed::Repo(RepoError::Corrupt(what)) => RepoError::Corrupt(what.clone()),
            other => repo_error(&other.to_string()),
        }
    }
}

/// A database error carrying `message`.
pub(super) fn repo_error(message: &str) -> RepoError {
    RepoError::Database(sqlx::Error::Io(std::io::Error::other(message.to_owned())))
}

/// Appends `records` to `kind`'s log in the open transaction `tx`, with their side rows
/// (`views[i]`: `records[i]`'s attribution, gateway only, empty for none; the vault lines'
/// downloads: [`crate::views`]); returns each record's hit number (`None` for the vault log
/// and for records naming no document).
pub(super) fn append<R: LogEntry>(
    tx: &Connection,
    kind: LogKind,
    records: &[R],
    fields: fn(&R, Option<i64>) -> String,
    views: &[Option<GatewayView>],
) -> Result<Vec<Option<i64>>, Failed> {
    let hits = match kind {
        LogKind::Vault => vec![None; records.len()],
        LogKind::Api | LogKind::Gateway => number(tx, kind, records)?,
    };
    let mut lines = lc::new_lines(records, &hits, fields);
    let mut heads = lock_heads(tx, kind, lc::chain_keys(&lines))?;
    lc::link(&mut lines, &mut heads).map_err(Failed::Repo)?;
    insert(tx, kind, &lines)?;
    store_heads(tx, kind, &heads)?;
    match kind {
        LogKind::Gateway => insert_views(tx, &lines, views)?,
        LogKind::Vault => insert_downloads(tx, &lines)?,
        LogKind::Api => {}
    }
    Ok(hits)
}

/// Advances each named document's hit counter (in document-id order) and numbers the records.
fn number<R: LogEntry>(
    tx: &Connection,
    kind: LogKind,
    records: &[R],
) -> Result<Vec<Option<i64>>, Failed> {
    let counts = lc::hits_per_document(records);
    let mut upsert = tx.prepare_cached(log_sql!(
        kind,
        "INSERT INTO " hits " (document_id, hits) VALUES (?1, ?2) \
         ON CONFLICT (document_id) DO UPDATE SET hits = " hits ".hits + excluded.hits \
         RETURNING hits"
    ))?;
    let mut totals = BTreeMap::new();
    for (&id, &count) in &counts {
        let total: i64 = upsert.query_row((id, count), |row| row.get(0))?;
        totals.insert(id, total);
    }
    lc::number_records(records, &counts, &totals).map_err(Failed::Repo)
}

/// Reads (creating at the genesis when missing) the heads of `keys`; the write transaction
/// already holds the database, so no other writer can advance them before the commit.
fn lock_heads(
    tx: &Connection,
    kind: LogKind,
    keys: BTreeSet<&str>,
) -> Result<BTreeMap<String, Head>, Failed> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO log_heads (log, producer, head, count) VALUES (?1, ?2, ?3, 0) \
         ON CONFLICT (log, producer) DO UPDATE SET count = log_heads.count \
         RETURNING head, count",
    )?;
    let genesis = Head::genesis().head;
    let mut heads = BTreeMap::new();
    for key in keys {
        let head = upsert.query_row((kind.name(), key, &genesis), |row| {
            Ok(Head {
                head: row.get(0)?,
                count: row.get(1)?,
            })
        })?;
        heads.insert(key.to_owned(), head);
    }
    Ok(heads)
}

/// Inserts the lines in order (their `seq` follows it), one cached statement per line: with
/// no thread hand-off a statement costs a few µs, and one text serves every batch size.
fn insert(tx: &Connection, kind: LogKind, lines: &[NewLine<'_>]) -> Result<(), Failed> {
    match kind {
        LogKind::Vault => {
            let mut insert = tx.prepare_cached(
                "INSERT INTO vault_log (producer_id, document_id, time, fields, prev, chain) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for line in lines {
                let NewLine {
                    producer_id,
                    document_id,
                    time,
                    fields,
                    prev,
                    chain,
                    ..
                } = line;
                insert.execute((producer_id, document_id, time, fields, prev, chain))?;
            }
        }
        LogKind::Api | LogKind::Gateway => {
            let mut insert = tx.prepare_cached(log_sql!(
                kind,
                "INSERT INTO " log " (producer_id, document_id, time, hit, fields, prev, chain) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?;
            for line in lines {
                let NewLine {
                    producer_id,
                    document_id,
                    time,
                    hit,
                    fields,
                    prev,
                    chain,
                } = line;
                insert.execute((producer_id, document_id, time, hit, fields, prev, chain))?;
            }
        }
    }
    Ok(())
}

/// The attributions of the gateway lines just inserted (`lines[i]` is `views[i]`'s).
fn insert_views(
    tx: &Connection,
    lines: &[NewLine<'_>],
    views: &[Option<GatewayView>],
) -> Result<(), Failed> {
    if views.is_empty() {
        return Ok(());
    }
    if views.len() != lines.len() {
        return Err(Failed::Other("one attribution per gateway record".into()));
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO gateway_views (document_id, record, hit, time, outcome, nonce, address) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (line, view) in lines.iter().zip(views) {
        let (Some(view), Some(document), Some(hit)) = (view, line.document_id, line.hit) else {
            continue;
        };
        let (nonce, address) = (view.nonce.as_deref(), view.address.as_deref());
        let outcome = view.outcome.as_str();
        insert.execute((
            document,
            view.record,
            hit,
            line.time,
            outcome,
            nonce,
            address,
        ))?;
    }
    Ok(())
}

/// A `vault_downloads` row for each vault line recording a download through a handle that
/// `gateway_views` knows (the record comes from there).
fn insert_downloads(tx: &Connection, lines: &[NewLine<'_>]) -> Result<(), Failed> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO vault_downloads \
         (document_id, record, nonce, time, status, bytes_sent, object_size, complete) \
         SELECT document_id, record, nonce, ?3, ?4, ?5, ?6, ?7 FROM gateway_views \
         WHERE nonce = ?1 AND document_id = ?2",
    )?;
    for line in lines {
        let Some(document) = line.document_id else {
            continue;
        };
        let Some(download) = VaultDownload::of_line(&line.fields) else {
            continue;
        };
        let VaultDownload {
            nonce,
            status,
            bytes_sent,
            object_size,
        } = &download;
        let complete = i64::from(download.complete());
        let row = (
            nonce,
            document,
            line.time,
            status,
            bytes_sent,
            object_size,
            complete,
        );
        insert.execute(row)?;
    }
    Ok(())
}

fn store_heads(
    tx: &Connection,
    kind: LogKind,
    heads: &BTreeMap<String, Head>,
) -> Result<(), Failed> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO log_heads (log, producer, head, count) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (log, producer) DO UPDATE SET head = excluded.head, count = excluded.count",
    )?;
    for (key, head) in heads {
        upsert.execute((kind.name(), key, &head.head, head.count))?;
    }
    Ok(())
}
