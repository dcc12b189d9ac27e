//! The three audit logs: chained appends, hit numbers, streamed export, retention, and the
//! chaining of rows written before migration 0006 (trait methods delegate here; what both
//! dialects share is in `log_codec`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sqlx::PgConnection;

use super::PgRepository;
use crate::codec::{Columns, db_error, millis};
use crate::gateway_codec as gc;
use crate::ids::{DocumentId, ProducerId};
use crate::log_codec::{self as lc, Head, LogEntry, NewLine, log_sql};
use crate::model::{ApiLogRecord, GatewayLogRecord, LogKind, LogLine, PurgedLines, VaultLogRecord};
use crate::repo::RepoError;

impl PgRepository {
    pub(super) async fn insert_vault_log(
        &self,
        records: &[VaultLogRecord],
    ) -> Result<(), RepoError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = lc::new_lines(records, &vec![None; records.len()], lc::vault_fields);
        let mut tx = self.pool.begin().await.map_err(db_error)?;
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
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let mut totals = BTreeMap::new();
        for (&id, &count) in &counts {
            let total: i64 = sqlx::query_scalar(log_sql!(
                kind,
                "INSERT INTO " hits " (document_id, hits) VALUES ($1, $2) \
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
        // seq (write order) and arrive as the server sends them.
        sqlx::query(log_sql!(
            kind,
            "SELECT " columns " FROM " log " \
             WHERE producer_id = $1 AND time >= $2 AND time <= $3 \
               AND ($4::TEXT IS NULL OR document_id = $4) ORDER BY seq"
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
        // In chunks, each its own short transaction.
        let mut purged = PurgedLines::new();
        loop {
            let producers: Vec<Option<String>> = sqlx::query_scalar(log_sql!(
                kind,
                "DELETE FROM " log " WHERE seq IN \
                 (SELECT seq FROM " log " WHERE time < $1 ORDER BY seq LIMIT $2) \
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

    /// Chains the rows written before migration 0006, for each log `log_backfill` still names,
    /// and forgets the name, in one transaction. The `log_backfill` rows stay locked until it
    /// commits, so another instance starting at the same time waits here and then finds nothing
    /// left to do; no instance appends before its own `migrate` returned, so none appends
    /// before the old rows are chained.
    pub(super) async fn chain_old_lines(&self) -> Result<(), RepoError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let pending: Vec<String> =
            sqlx::query_scalar("SELECT log FROM log_backfill ORDER BY log FOR UPDATE")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        for name in &pending {
            chain_old_log(&mut tx, lc::kind_named(name)?).await?;
            sqlx::query("DELETE FROM log_backfill WHERE log = $1")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
    }
}

async fn chain_old_log(conn: &mut PgConnection, kind: LogKind) -> Result<(), RepoError> {
    let mut heads = BTreeMap::new();
    for row in sqlx::query("SELECT producer, head, count FROM log_heads WHERE log = $1 FOR UPDATE")
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
             WHERE chain IS NULL AND seq > $1 ORDER BY seq LIMIT $2"
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
        let chained = lc::chain_old_rows(&rows, &mut heads);
        let (seqs, (prevs, chains)): (Vec<i64>, (Vec<String>, Vec<String>)) = chained
            .into_iter()
            .map(|(seq, prev, chain)| (seq, (prev, chain)))
            .unzip();
        sqlx::query(log_sql!(
            kind,
            "UPDATE " log " AS l SET prev = u.prev, chain = u.chain \
             FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[]) AS u (seq, prev, chain) \
             WHERE l.seq = u.seq"
        ))
        .bind(seqs)
        .bind(prevs)
        .bind(chains)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    store_heads(conn, kind, &heads).await
}

/// Locks the heads of the chains `lines` touch, links the lines, inserts them (one
/// statement) and stores the new heads, all in the caller's transaction.
async fn write_chained(
    conn: &mut PgConnection,
    kind: LogKind,
    lines: &mut [NewLine<'_>],
) -> Result<(), RepoError> {
    let mut heads = lock_heads(conn, kind, lc::chain_keys(lines)).await?;
    lc::link(lines, &mut heads)?;
    // WITH ORDINALITY … ORDER BY: the rows take their seq in batch order, which is chain order.
    let insert = match kind {
        LogKind::Vault => {
            "INSERT INTO vault_log (producer_id, document_id, time, fields, prev, chain) \
             SELECT p, d, t, f, pr, c FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], \
             $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[]) WITH ORDINALITY \
             AS u (p, d, t, h, f, pr, c, n) ORDER BY n"
        }
        LogKind::Api | LogKind::Gateway => log_sql!(
            kind,
            "INSERT INTO " log " (producer_id, document_id, time, hit, fields, prev, chain) \
             SELECT p, d, t, h, f, pr, c FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], \
             $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[]) WITH ORDINALITY \
             AS u (p, d, t, h, f, pr, c, n) ORDER BY n"
        ),
    };
    sqlx::query(insert)
        .bind(lines.iter().map(|l| l.producer_id).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.document_id).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.time).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.hit).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.fields.as_str()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.prev.as_str()).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.chain.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    store_heads(conn, kind, &heads).await
}

/// Reads (creating at the genesis when missing) and locks the heads of `keys`, in key order.
/// The upsert takes the row lock even when the row exists, and waits for (then reads) a head a
/// concurrent append advanced, so that append's lines come first and this batch chains on
/// from its last one.
async fn lock_heads(
    conn: &mut PgConnection,
    kind: LogKind,
    keys: BTreeSet<&str>,
) -> Result<BTreeMap<String, Head>, RepoError> {
    let mut heads = BTreeMap::new();
    for key in keys {
        let row = sqlx::query(
            "INSERT INTO log_heads (log, producer, head, count) VALUES ($1, $2, $3, 0) \
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
    conn: &mut PgConnection,
    kind: LogKind,
    heads: &BTreeMap<String, Head>,
) -> Result<(), RepoError> {
    for (key, head) in heads {
        sqlx::query(
            "INSERT INTO log_heads (log, producer, head, count) VALUES ($1, $2, $3, $4) \
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
