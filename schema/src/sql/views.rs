//! Viewer attribution (migration 0019, [`crate::views`]): the side rows written with the
//! gateway and vault log lines on the sqlx path (PostgreSQL; the SQLite log writer has its
//! own, `crate::sqlite::log_append`), and the report's grouped reads.

use futures_util::future::try_join3;
use futures_util::{StreamExt as _, TryStreamExt as _};

use super::query::Sql;
use super::{Dialect, SqlRepository, sql};
use crate::ids::DocumentId;
use crate::log_codec::{NewLine, PURGE_CHUNK};
use crate::model::LogKind;
use crate::repo::RepoError;
use crate::views::{
    DownloadEvent, GatewayView, RecordDelivery, RecordDownloads, RecordHistory, RecordOf,
    RecordVisits, VaultDownload, ViewReport, VisitEvent, outcome_named,
};

/// Rows per composed statement (7 values each: far under either database's bind limit).
const CHUNK: usize = 500;

/// `(VALUES ($1, …, $n), …)` for `rows` rows of `width` values.
fn values_list(rows: usize, width: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        format!("({})", cells.join(", "))
    };
    let rows: Vec<String> = (0..rows).map(row).collect();
    format!("VALUES {}", rows.join(", "))
}

/// Writes the attribution of the gateway lines just inserted (`lines[i]` is `views[i]`'s,
/// numbered), in the caller's transaction.
pub(crate) async fn write_gateway_views<D: Dialect>(
    conn: &mut D::Connection,
    lines: &[NewLine<'_>],
    views: &[Option<GatewayView>],
) -> Result<(), RepoError> {
    let rows: Vec<(&NewLine<'_>, &GatewayView)> = lines
        .iter()
        .zip(views)
        .filter_map(|(line, view)| Some((line, view.as_ref()?)))
        .filter(|(line, _)| line.document_id.is_some() && line.hit.is_some())
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let text = format!(
            "INSERT INTO gateway_views (document_id, record, hit, time, outcome, nonce, address) {}",
            values_list(chunk.len(), 7)
        );
        let mut insert = Sql::<D>::composed(text);
        for (line, view) in chunk {
            insert = insert
                .bind(line.document_id)
                .bind(view.record)
                .bind(line.hit)
                .bind(line.time)
                .bind(view.outcome.as_str())
                .bind(view.nonce.as_deref())
                .bind(view.address.as_deref());
        }
        insert.execute(D::on_conn(conn)).await?;
    }
    Ok(())
}

/// Writes a `vault_downloads` row for each line recording a download through a handle that
/// `gateway_views` knows (the record comes from there), in the caller's transaction.
pub(crate) async fn write_vault_downloads<D: Dialect>(
    conn: &mut D::Connection,
    lines: &[NewLine<'_>],
) -> Result<(), RepoError> {
    let rows: Vec<(&NewLine<'_>, VaultDownload)> = lines
        .iter()
        .filter(|line| line.document_id.is_some())
        .filter_map(|line| Some((line, VaultDownload::of_line(&line.fields)?)))
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let text = format!(
            "INSERT INTO vault_downloads \
             (document_id, record, nonce, time, status, bytes_sent, object_size, complete) \
             SELECT v.document_id, v.record, v.nonce, d.column3, d.column4, d.column5, \
                    d.column6, d.column7 \
             FROM ({}) AS d JOIN gateway_views v ON v.nonce = d.column1 \
                                                AND v.document_id = d.column2",
            values_list(chunk.len(), 7)
        );
        let mut insert = Sql::<D>::composed(text);
        for (line, download) in chunk {
            insert = insert
                .bind(download.nonce.as_str())
                .bind(line.document_id)
                .bind(line.time)
                .bind(download.status)
                .bind(download.bytes_sent)
                .bind(download.object_size)
                .bind(i64::from(download.complete()));
        }
        insert.execute(D::on_conn(conn)).await?;
    }
    Ok(())
}

/// One chunk of the attribution rows older than `$1` that go with `kind`'s log lines (at most
/// `$2` rows), oldest first through the `time` indexes of migration 0020; none for the API log.
fn purge_chunk(kind: LogKind) -> Option<&'static str> {
    match kind {
        LogKind::Gateway => Some(
            "DELETE FROM gateway_views WHERE (document_id, record, hit) IN \
             (SELECT document_id, record, hit FROM gateway_views \
              WHERE time < $1 ORDER BY time LIMIT $2)",
        ),
        LogKind::Vault => Some(
            "DELETE FROM vault_downloads WHERE seq IN \
             (SELECT seq FROM vault_downloads WHERE time < $1 ORDER BY time LIMIT $2)",
        ),
        LogKind::Api => None,
    }
}

/// Deletes a document's attribution rows in the caller's transaction (the document's
/// deletion): they name its records, handles and viewers' addresses, and nothing reads them
/// once the document is gone (its report and receipts are 404). The log lines stay until
/// retention takes them, as they would without this table. A gateway request already past its
/// document lookup when the deletion commits may still add a row after it: retention takes
/// that one with its line.
pub(crate) async fn wipe_views<D: Dialect>(
    conn: &mut D::Connection,
    document: &DocumentId,
) -> Result<(), RepoError> {
    sql("DELETE FROM gateway_views WHERE document_id = $1")
        .bind(document.as_str())
        .execute(D::on_conn(conn))
        .await?;
    sql("DELETE FROM vault_downloads WHERE document_id = $1")
        .bind(document.as_str())
        .execute(D::on_conn(conn))
        .await?;
    Ok(())
}

impl<D: Dialect> SqlRepository<D> {
    /// The grouped rows of `document`'s report: three statements, each one indexed range
    /// grouped by record (see migration 0019), whatever the audience size. They run at once
    /// on three connections (each scans its own table: with a million rows each, the report's
    /// time is the longest scan rather than their sum), and their rows are decoded as they
    /// arrive rather than collected first.
    pub(crate) async fn read_view_report(
        &self,
        document: &DocumentId,
    ) -> Result<ViewReport, RepoError> {
        let visits = sql(VISITS)
            .bind(document.as_str())
            .fetch(self.db())
            .map(|row| visits_row(&row?))
            .try_collect();
        let downloads = sql(DOWNLOADS)
            .bind(document.as_str())
            .fetch(self.db())
            .map(|row| downloads_row(&row?))
            .try_collect();
        let deliveries = sql(DELIVERIES)
            .bind(document.as_str())
            .bind(Option::<i64>::None)
            .fetch(self.db())
            .map(|row| delivery_row(&row?))
            .try_collect();
        let (visits, downloads, deliveries) = try_join3(visits, downloads, deliveries).await?;
        Ok(ViewReport {
            visits,
            downloads,
            deliveries,
        })
    }

    /// Purges the attribution rows older than `before` (milliseconds) that go with `kind`'s
    /// log lines, which the retention job is purging: they hold the same client addresses.
    /// In chunks of their own short transactions, as the lines, so appends wait at most one.
    pub(crate) async fn purge_views_before(
        &self,
        kind: LogKind,
        before: i64,
    ) -> Result<(), RepoError> {
        let Some(statement) = purge_chunk(kind) else {
            return Ok(());
        };
        loop {
            let done = sql(statement)
                .bind(before)
                .bind(PURGE_CHUNK)
                .execute(self.db())
                .await?;
            if done < PURGE_CHUNK.unsigned_abs() {
                return Ok(());
            }
        }
    }

    /// Every request and download of one record, in time order, and its delivery.
    pub(crate) async fn read_record_history(
        &self,
        of: RecordOf<'_>,
    ) -> Result<RecordHistory, RepoError> {
        let visits = sql(
            "SELECT time, hit, outcome, nonce, address FROM gateway_views \
             WHERE document_id = $1 AND record = $2 ORDER BY hit",
        )
        .bind(of.document.as_str())
        .bind(of.record)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(visit_event)
        .collect::<Result<_, _>>()?;
        let downloads = sql(
            "SELECT time, nonce, status, bytes_sent, object_size, complete FROM vault_downloads \
             WHERE document_id = $1 AND record = $2 ORDER BY seq",
        )
        .bind(of.document.as_str())
        .bind(of.record)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(download_event)
        .collect::<Result<_, _>>()?;
        let delivery = sql(DELIVERIES)
            .bind(of.document.as_str())
            .bind(Some(of.record))
            .fetch_optional(self.db())
            .await?
            .as_ref()
            .map(delivery_row)
            .transpose()?;
        Ok(RecordHistory {
            visits,
            downloads,
            delivery,
        })
    }
}

/// Per record: requests, outcomes, handles, and the address of the latest request (found by
/// primary key: the group's highest hit).
const VISITS: &str = "SELECT g.record, g.first, g.last, g.opened, g.passed, g.failed, g.handles, \
       (SELECT a.address FROM gateway_views a \
        WHERE a.document_id = $1 AND a.record = g.record AND a.hit = g.last_hit) AS address \
     FROM (SELECT record, MIN(time) AS first, MAX(time) AS last, COUNT(*) AS opened, \
             CAST(SUM(CASE WHEN outcome = 'passed' THEN 1 ELSE 0 END) AS BIGINT) AS passed, \
             CAST(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END) AS BIGINT) AS failed, \
             COUNT(nonce) AS handles, MAX(hit) AS last_hit \
           FROM gateway_views WHERE document_id = $1 GROUP BY record) AS g \
     ORDER BY g.record";

const DOWNLOADS: &str = "SELECT record, \
       CAST(SUM(complete) AS BIGINT) AS complete, \
       CAST(SUM(1 - complete) AS BIGINT) AS partial, \
       CAST(SUM(bytes_sent) AS BIGINT) AS bytes, MAX(time) AS last \
     FROM vault_downloads WHERE document_id = $1 GROUP BY record ORDER BY record";

/// Per record (or for record `$2` only), the best state of its delivery jobs over every
/// delivery of the document: sent, else queued, else failed; and when its jobs were last
/// updated. The producer comes from the document, so the `(producer_id, document_id)` index
/// serves the range.
const DELIVERIES: &str = "SELECT j.record, \
       CASE MAX(CASE j.status WHEN 'sent' THEN 3 WHEN 'queued' THEN 2 ELSE 1 END) \
         WHEN 3 THEN 'sent' WHEN 2 THEN 'queued' ELSE 'failed' END AS status, \
       MAX(j.updated_at) AS time \
     FROM deliveries d JOIN delivery_jobs j ON j.delivery_id = d.id \
     WHERE d.producer_id = (SELECT producer_id FROM documents WHERE id = $1) \
       AND d.document_id = $1 AND j.record IS NOT NULL \
       AND (CAST($2 AS BIGINT) IS NULL OR j.record = $2) \
     GROUP BY j.record ORDER BY j.record";

fn visits_row(row: &impl crate::codec::Columns) -> Result<RecordVisits, RepoError> {
    Ok(RecordVisits {
        record: row.int("record")?,
        first: row.time("first")?,
        last: row.time("last")?,
        opened: row.int("opened")?,
        passed: row.int("passed")?,
        failed: row.int("failed")?,
        handles: row.int("handles")?,
        last_address: row.opt_text("address")?,
    })
}

fn downloads_row(row: &impl crate::codec::Columns) -> Result<RecordDownloads, RepoError> {
    Ok(RecordDownloads {
        record: row.int("record")?,
        complete: row.int("complete")?,
        partial: row.int("partial")?,
        bytes: row.int("bytes")?,
        last: row.time("last")?,
    })
}

fn delivery_row(row: &impl crate::codec::Columns) -> Result<RecordDelivery, RepoError> {
    Ok(RecordDelivery {
        record: row.int("record")?,
        status: row.text("status")?,
        time: row.time("time")?,
    })
}

fn visit_event(row: &impl crate::codec::Columns) -> Result<VisitEvent, RepoError> {
    let outcome = row.text("outcome")?;
    Ok(VisitEvent {
        time: row.time("time")?,
        hit: row.int("hit")?,
        outcome: outcome_named(&outcome)
            .ok_or_else(|| RepoError::Corrupt("gateway_views.outcome".into()))?,
        nonce: row.opt_text("nonce")?,
        address: row.opt_text("address")?,
    })
}

fn download_event(row: &impl crate::codec::Columns) -> Result<DownloadEvent, RepoError> {
    Ok(DownloadEvent {
        time: row.time("time")?,
        nonce: row.text("nonce")?,
        status: row.int("status")?,
        bytes_sent: row.int("bytes_sent")?,
        object_size: row.opt_int("object_size")?,
        complete: row.int("complete")? != 0,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_lists_number_every_cell() {
        assert_eq!(
            super::values_list(2, 3),
            "VALUES ($1, $2, $3), ($4, $5, $6)"
        );
    }
}
