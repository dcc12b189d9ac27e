//! The three audit logs: chained appends, hit numbers, streamed export, retention, and the
//! chaining of rows written before migration 0006 (trait methods delegate here; what both
//! dialects share is in `log_codec`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::SqliteConnection;

use super::SqliteRepository;
use crate::codec::{Columns, db_error, millis};
use crate::gateway_codec as gc;
use crate::ids::{DocumentId, ProducerId};
use crate::log_codec::{self as lc, Head, LogEntry, NewLine, log_sql};
use crate::model::{ApiLogRecord, GatewayLogRecord, LogKind, LogLine, PurgedLines, VaultLogRecord};
use crate::repo::RepoError;

impl SqliteRepository {
    pub(super) async fn insert_vault_log(
        &self,
        records: &[VaultLogRecord],
    ) -> Result<(), RepoError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = lc::new_lines(records, &vec![None; records.len()], lc::vault_fields);
        let mut tx = self.begin_write().await?;
        write_chained(&mut tx, LogKind::Vault, &mut lines).await?;
        tx.commit().await.map_err(db_error)
    }

    pub(super) async fn insert_gateway_log(
        &self,
        records: &[GatewayLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.append_numbered(LogKind::Gateway, records, gc::log_fields)
            .await
    }

    pub(super) async fn insert_api_log(
        &self,
        records: &[ApiLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.append_numbered(LogKind::Api, records, lc::api_fields)
            .await
    }

    /// IMMEDIATE: the write lock up front, so the busy timeout applies to it and the heads read
    /// in the transaction cannot change before it commits.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, RepoError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    /// Appends to a log with hit numbers (API, gateway), see `Repository::append_gateway_log`.
    async fn append_numbered<R: LogEntry>(
        &self,
        kind: LogKind,
        records: &[R],
        fields: fn(&R, Option<i64>) -> String,
    ) -> Result<Vec<Option<i64>>, RepoError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let counts = lc::hits_per_document(records);
        let mut tx = self.begin_write().await?;
        let mut totals = BTreeMap::new();
        for (&id, &count) in &counts {
            let total: i64 = sqlx::query_scalar(log_sql!(
                kind,
                "INSERT INTO " hits " (document_id, hits) VALUES (?1, ?2) \
                 ON CONFLICT (document_id) DO UPDATE SET hits = " hits ".hits + excluded.hits \
                 RETURNING hits"
            ))
            .bind(id)
            .bind(count)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
            totals.insert(id, total);
        }
        let hits = lc::number_records(records, &counts, &totals)?;
        let mut lines = lc::new_lines(records, &hits, fields);
        write_chained(&mut tx, kind, &mut lines).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(hits)
    }

    pub(super) fn stream_log<'a>(
        &'a self,
        kind: LogKind,
        producer: &'a ProducerId,
        document: Option<&'a DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxStream<'a, Result<LogLine, RepoError>> {
        // The range goes through the (producer_id, time) index; the rows are then sorted by
        // seq (write order) and handed over one by one as sqlx's worker reads them.
        sqlx::query(log_sql!(
            kind,
            "SELECT " columns " FROM " log " \
             WHERE producer_id = ?1 AND time >= ?2 AND time <= ?3 \
               AND (?4 IS NULL OR document_id = ?4) ORDER BY seq"
        ))
        .bind(producer.as_str())
        .bind(millis(from))
        .bind(millis(to))
        .bind(document.map(DocumentId::as_str))
        .fetch(&self.pool)
        .map(|row| row.map_err(db_error).and_then(|row| lc::log_line(&row)))
        .boxed()
    }

    pub(super) async fn delete_log_before(
        &self,
        kind: LogKind,
        before: DateTime<Utc>,
    ) -> Result<PurgedLines, RepoError> {
        // In chunks, each its own short write transaction: appends wait at most one chunk.
        let mut purged = PurgedLines::new();
        loop {
            let producers: Vec<Option<String>> = sqlx::query_scalar(log_sql!(
                kind,
                "DELETE FROM " log " WHERE seq IN \
                 (SELECT seq FROM " log " WHERE time < ?1 ORDER BY seq LIMIT ?2) \
                 RETURNING producer_id"
            ))
            .bind(millis(before))
            .bind(lc::PURGE_CHUNK)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let done = producers.len();
            lc::tally(&mut purged, producers)?;
            if done < lc::PURGE_CHUNK.unsigned_abs() as usize {
                return Ok(purged);
            }
        }
    }
}

/// Lines per INSERT statement: 7 parameters each, far below SQLite's 32,766.
const INSERT_CHUNK: usize = 500;

/// Locks the heads of the chains `lines` touch, links the lines, inserts them and stores the
/// new heads, all in the caller's (IMMEDIATE) transaction.
async fn write_chained(
    conn: &mut SqliteConnection,
    kind: LogKind,
    lines: &mut [NewLine<'_>],
) -> Result<(), RepoError> {
    let mut heads = lock_heads(conn, kind, lc::chain_keys(lines)).await?;
    lc::link(lines, &mut heads)?;
    // One multi-row INSERT per chunk rather than one statement per line: each statement is a
    // round trip to sqlx's SQLite worker thread, which dominated a busy gateway's audit cost.
    // SQLite assigns the rows' seq in VALUES order, which is chain order.
    for chunk in lines.chunks(INSERT_CHUNK) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(match kind {
            LogKind::Vault => {
                "INSERT INTO vault_log (producer_id, document_id, time, fields, prev, chain) "
            }
            LogKind::Api | LogKind::Gateway => log_sql!(
                kind,
                "INSERT INTO " log " (producer_id, document_id, time, hit, fields, prev, chain) "
            ),
        });
        insert.push_values(chunk, |mut row, line| {
            row.push_bind(line.producer_id)
                .push_bind(line.document_id)
                .push_bind(line.time);
            if kind != LogKind::Vault {
                row.push_bind(line.hit);
            }
            row.push_bind(line.fields.as_str())
                .push_bind(line.prev.as_str())
                .push_bind(line.chain.as_str());
        });
        insert.build().execute(&mut *conn).await.map_err(db_error)?;
    }
    store_heads(conn, kind, &heads).await
}

/// Reads (creating at the genesis when missing) the heads of `keys`. SQLite needs no row lock:
/// the IMMEDIATE transaction already holds the database's write lock.
async fn lock_heads(
    conn: &mut SqliteConnection,
    kind: LogKind,
    keys: BTreeSet<&str>,
) -> Result<BTreeMap<String, Head>, RepoError> {
    let mut heads = BTreeMap::new();
    for key in keys {
        let row = sqlx::query(
            "INSERT INTO log_heads (log, producer, head, count) VALUES (?1, ?2, ?3, 0) \
             ON CONFLICT (log, producer) DO UPDATE SET count = log_heads.count \
             RETURNING head, count",
        )
        .bind(kind.name())
        .bind(key)
        .bind(Head::genesis().head)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
        heads.insert(key.to_owned(), lc::head(&row)?);
    }
    Ok(heads)
}

async fn store_heads(
    conn: &mut SqliteConnection,
    kind: LogKind,
    heads: &BTreeMap<String, Head>,
) -> Result<(), RepoError> {
    for (key, head) in heads {
        sqlx::query(
            "INSERT INTO log_heads (log, producer, head, count) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (log, producer) DO UPDATE SET head = excluded.head, count = excluded.count",
        )
        .bind(kind.name())
        .bind(key)
        .bind(&head.head)
        .bind(head.count)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// Chains the rows written before migration 0006, for each log `log_backfill` still names,
/// and forgets the name: run inside the migration's transaction, so no append can come first.
pub(super) async fn chain_old_lines(conn: &mut SqliteConnection) -> Result<(), RepoError> {
    let pending: Vec<String> = sqlx::query_scalar("SELECT log FROM log_backfill ORDER BY log")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    for name in pending {
        let kind = lc::kind_named(&name)?;
        let mut heads = BTreeMap::new();
        for row in sqlx::query("SELECT producer, head, count FROM log_heads WHERE log = ?1")
            .bind(kind.name())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
        {
            heads.insert(row.text("producer")?, lc::head(&row)?);
        }
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(log_sql!(
                kind,
                "SELECT seq, producer_id, fields FROM " log " \
                 WHERE chain IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2"
            ))
            .bind(after)
            .bind(lc::BACKFILL_PAGE)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
            .iter()
            .map(lc::old_row)
            .collect::<Result<Vec<_>, _>>()?;
            let Some(&(last, _, _)) = rows.last() else {
                break;
            };
            after = last;
            for (seq, prev, chain) in lc::chain_old_rows(&rows, &mut heads) {
                sqlx::query(log_sql!(
                    kind,
                    "UPDATE " log " SET prev = ?1, chain = ?2 WHERE seq = ?3"
                ))
                .bind(prev)
                .bind(chain)
                .bind(seq)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
            }
        }
        store_heads(conn, kind, &heads).await?;
        sqlx::query("DELETE FROM log_backfill WHERE log = ?1")
            .bind(&name)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}
