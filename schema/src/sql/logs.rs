//! The three audit logs: chained appends, hit numbers, reads, streamed export, retention, and
//! the chaining of rows written before migration 0006 (what needs no database is in
//! `log_codec`; the bulk insert is the dialect's).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, Columns as _, millis};
use crate::gateway_codec as gc;
use crate::ids::{DocumentId, ProducerId};
use crate::log_codec::{self as lc, Head, LogEntry, NewLine, log_sql};
use crate::model::{
    ApiLogRecord, GatewayLogLine, GatewayLogRecord, LogKind, LogLine, PurgedLines, VaultLogRecord,
};
use crate::repo::{LogRepo, RepoError};
use crate::tenant::Tenant;
use crate::views::{GatewayView, RecordHistory, RecordOf, ViewReport};

#[async_trait]
impl<D: Dialect> LogRepo for SqlRepository<D> {
    async fn append_vault_log(&self, records: &[VaultLogRecord]) -> Result<(), RepoError> {
        if let Some(writer) = self.log_writer() {
            return writer
                .append(LogKind::Vault, records, lc::vault_fields, Vec::new())
                .await
                .map(drop);
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut lines = lc::new_lines(records, &vec![None; records.len()], lc::vault_fields);
        let mut tx = D::begin_write(&self.pool).await?;
        write_chained::<D>(&mut tx, LogKind::Vault, &mut lines).await?;
        super::views::write_vault_downloads::<D>(&mut tx, &lines).await?;
        tx.commit().await.map_err(codec::db_error)
    }

    async fn vault_log(
        &self,
        producer: &ProducerId,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VaultLogRecord>, RepoError> {
        sql(
            "SELECT producer_id, document_id, time, fields FROM vault_log \
             WHERE producer_id = $1 AND time >= $2 AND time <= $3 \
               AND (CAST($4 AS TEXT) IS NULL OR document_id = $4) ORDER BY seq",
        )
        .bind(producer.as_str())
        .bind(millis(from))
        .bind(millis(to))
        .bind(document.map(DocumentId::as_str))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(codec::vault_log)
        .collect()
    }

    async fn append_gateway_log(
        &self,
        records: &[GatewayLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.append_numbered(LogKind::Gateway, records, gc::log_fields, Vec::new())
            .await
    }

    async fn append_gateway_log_viewed(
        &self,
        records: &[GatewayLogRecord],
        views: &[Option<GatewayView>],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        if views.len() != records.len() {
            return Err(RepoError::Corrupt(
                "one attribution per gateway record".into(),
            ));
        }
        self.append_numbered(LogKind::Gateway, records, gc::log_fields, views.to_vec())
            .await
    }

    async fn view_report(&self, document: &DocumentId) -> Result<ViewReport, RepoError> {
        self.read_view_report(document).await
    }

    async fn record_history(&self, of: RecordOf<'_>) -> Result<RecordHistory, RepoError> {
        self.read_record_history(of).await
    }

    async fn gateway_log(
        &self,
        producer: Option<&ProducerId>,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<GatewayLogLine>, RepoError> {
        // Two statements rather than `$1 IS NULL OR producer_id = $1`, so the scoped one can
        // always use the (producer_id, time) index.
        let query = match producer {
            Some(_) => sql(
                "SELECT producer_id, document_id, time, hit, fields FROM gateway_log \
                 WHERE producer_id = $4 AND time >= $1 AND time <= $2 \
                   AND (CAST($3 AS TEXT) IS NULL OR document_id = $3) ORDER BY seq",
            ),
            None => sql(
                "SELECT producer_id, document_id, time, hit, fields FROM gateway_log \
                 WHERE time >= $1 AND time <= $2 \
                   AND (CAST($3 AS TEXT) IS NULL OR document_id = $3) ORDER BY seq",
            ),
        };
        let query = query
            .bind(millis(from))
            .bind(millis(to))
            .bind(document.map(DocumentId::as_str));
        let query = match producer {
            Some(producer) => query.bind(producer.as_str()),
            None => query,
        };
        query
            .fetch_all(self.db())
            .await?
            .iter()
            .map(gc::gateway_log_line)
            .collect()
    }

    async fn append_api_log(
        &self,
        records: &[ApiLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError> {
        self.append_numbered(LogKind::Api, records, lc::api_fields, Vec::new())
            .await
    }

    fn export_log<'a>(
        &'a self,
        kind: LogKind,
        tenant: &'a Tenant,
        document: Option<&'a DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxStream<'a, Result<LogLine, RepoError>> {
        // The range goes through the (producer_id, time) index; the rows are then sorted by
        // seq (write order) and handed over one by one as the database sends them. A line is
        // a test line when its document is listed in `test_documents` (a primary-key probe).
        sql(log_sql!(
            kind,
            "SELECT " columns " FROM " log " \
             WHERE producer_id = $1 AND time >= $2 AND time <= $3 \
               AND (CAST($4 AS TEXT) IS NULL OR document_id = $4) \
               AND CASE WHEN EXISTS (SELECT 1 FROM test_documents t \
                                     WHERE t.document_id = " log ".document_id) \
                        THEN 1 ELSE 0 END = $5 \
             ORDER BY seq"
        ))
        .bind(tenant.producer.as_str())
        .bind(millis(from))
        .bind(millis(to))
        .bind(document.map(DocumentId::as_str))
        .bind(i64::from(tenant.is_test()))
        .fetch(self.db())
        .map(|row| row.and_then(|row| lc::log_line(&row)))
        .boxed()
    }

    async fn purge_log_before(
        &self,
        kind: LogKind,
        before: DateTime<Utc>,
    ) -> Result<PurgedLines, RepoError> {
        // In chunks, each its own short write transaction: appends wait at most one chunk.
        let mut purged = PurgedLines::new();
        loop {
            let producers = sql(log_sql!(
                kind,
                "DELETE FROM " log " WHERE seq IN \
                 (SELECT seq FROM " log " WHERE time < $1 ORDER BY seq LIMIT $2) \
                 RETURNING producer_id"
            ))
            .bind(millis(before))
            .bind(lc::PURGE_CHUNK)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(|row| row.opt_text("producer_id"))
            .collect::<Result<Vec<_>, _>>()?;
            let done = producers.len();
            lc::tally(&mut purged, producers)?;
            if done < lc::PURGE_CHUNK.unsigned_abs() as usize {
                self.purge_views_before(kind, millis(before)).await?;
                return Ok(purged);
            }
        }
    }
}

impl<D: Dialect> SqlRepository<D> {
    /// Appends to a log with hit numbers (API, gateway), see `LogRepo::append_gateway_log`;
    /// `views` (gateway only; empty for none) are written with the lines.
    async fn append_numbered<R: LogEntry + Clone + Send + 'static>(
        &self,
        kind: LogKind,
        records: &[R],
        fields: fn(&R, Option<i64>) -> String,
        views: Vec<Option<GatewayView>>,
    ) -> Result<Vec<Option<i64>>, RepoError> {
        if let Some(writer) = self.log_writer() {
            return writer.append(kind, records, fields, views).await;
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let counts = lc::hits_per_document(records);
        let mut tx = D::begin_write(&self.pool).await?;
        let mut totals = BTreeMap::new();
        for (&id, &count) in &counts {
            let row = sql(log_sql!(
                kind,
                "INSERT INTO " hits " (document_id, hits) VALUES ($1, $2) \
                 ON CONFLICT (document_id) DO UPDATE SET hits = " hits ".hits + excluded.hits \
                 RETURNING hits"
            ))
            .bind(id)
            .bind(count)
            .fetch_one(D::on_conn(&mut tx))
            .await?;
            totals.insert(id, row.int("hits")?);
        }
        let hits = lc::number_records(records, &counts, &totals)?;
        let mut lines = lc::new_lines(records, &hits, fields);
        write_chained::<D>(&mut tx, kind, &mut lines).await?;
        if !views.is_empty() {
            super::views::write_gateway_views::<D>(&mut tx, &lines, &views).await?;
        }
        tx.commit().await.map_err(codec::db_error)?;
        Ok(hits)
    }
}

/// Locks the heads of the chains `lines` touch, links the lines, inserts them and stores the
/// new heads, all in the caller's write transaction.
async fn write_chained<D: Dialect>(
    conn: &mut D::Connection,
    kind: LogKind,
    lines: &mut [NewLine<'_>],
) -> Result<(), RepoError> {
    let mut heads = lock_heads::<D>(conn, kind, lc::chain_keys(lines)).await?;
    lc::link(lines, &mut heads)?;
    D::insert_log_lines(conn, kind, lines).await?;
    store_heads::<D>(conn, kind, &heads).await
}

/// Reads (creating at the genesis when missing) the heads of `keys`, in key order. On
/// PostgreSQL the upsert takes the row lock even when the row exists, and waits for (then
/// reads) a head a concurrent append advanced, so that append's lines come first and this
/// batch chains on from its last one; SQLite's write transaction already holds the database.
async fn lock_heads<D: Dialect>(
    conn: &mut D::Connection,
    kind: LogKind,
    keys: BTreeSet<&str>,
) -> Result<BTreeMap<String, Head>, RepoError> {
    let mut heads = BTreeMap::new();
    for key in keys {
        let row = sql(
            "INSERT INTO log_heads (log, producer, head, count) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (log, producer) DO UPDATE SET count = log_heads.count \
             RETURNING head, count",
        )
        .bind(kind.name())
        .bind(key)
        .bind(Head::genesis().head)
        .fetch_one(D::on_conn(conn))
        .await?;
        heads.insert(key.to_owned(), lc::head(&row)?);
    }
    Ok(heads)
}

async fn store_heads<D: Dialect>(
    conn: &mut D::Connection,
    kind: LogKind,
    heads: &BTreeMap<String, Head>,
) -> Result<(), RepoError> {
    for (key, head) in heads {
        sql(
            "INSERT INTO log_heads (log, producer, head, count) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (log, producer) DO UPDATE SET head = excluded.head, count = excluded.count",
        )
        .bind(kind.name())
        .bind(key)
        .bind(&head.head)
        .bind(head.count)
        .execute(D::on_conn(conn))
        .await?;
    }
    Ok(())
}

/// Chains the rows written before migration 0006, for each log `log_backfill` still names,
/// and forgets the name, in the caller's transaction (the migration's on SQLite; its own, with
/// the `log_backfill` rows locked, on PostgreSQL), so no append can come first.
pub(crate) async fn chain_old_lines<D: Dialect>(conn: &mut D::Connection) -> Result<(), RepoError> {
    let pending = sql(D::texts().backfill_pending.as_str())
        .fetch_all(D::on_conn(conn))
        .await?
        .iter()
        .map(|row| row.text("log"))
        .collect::<Result<Vec<_>, _>>()?;
    for name in &pending {
        chain_old_log::<D>(conn, lc::kind_named(name)?).await?;
        sql("DELETE FROM log_backfill WHERE log = $1")
            .bind(name)
            .execute(D::on_conn(conn))
            .await?;
    }
    Ok(())
}

async fn chain_old_log<D: Dialect>(
    conn: &mut D::Connection,
    kind: LogKind,
) -> Result<(), RepoError> {
    let mut heads = BTreeMap::new();
    for row in sql(D::texts().heads_of_log.as_str())
        .bind(kind.name())
        .fetch_all(D::on_conn(conn))
        .await?
    {
        heads.insert(row.text("producer")?, lc::head(&row)?);
    }
    let mut after = i64::MIN;
    loop {
        let rows = sql(log_sql!(
            kind,
            "SELECT seq, producer_id, fields FROM " log " \
             WHERE chain IS NULL AND seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(lc::BACKFILL_PAGE)
        .fetch_all(D::on_conn(conn))
        .await?
        .iter()
        .map(lc::old_row)
        .collect::<Result<Vec<_>, _>>()?;
        let Some(&(last, _, _)) = rows.last() else {
            break;
        };
        after = last;
        D::store_old_chains(conn, kind, lc::chain_old_rows(&rows, &mut heads)).await?;
    }
    store_heads::<D>(conn, kind, &heads).await
}
