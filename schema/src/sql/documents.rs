//! A producer's documents: insert, read, list, compare-and-swap replacement, and deletion
//! with the object row (the wrapped data key) in one transaction. Reads and conditional
//! deletes are scoped to a [`Tenant`] (producer and environment). Every committed write empties
//! the gateway's placeholder cache (`super::viewer_cache`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, document_columns, millis};
use crate::ids::{DocumentId, ProducerId};
use crate::model::DocumentRecord;
use crate::repo::{DocumentRepo, RepoError};
use crate::tenant::Tenant;

#[async_trait]
impl<D: Dialect> DocumentRepo for SqlRepository<D> {
    async fn insert_document(&self, document: &DocumentRecord) -> Result<(), RepoError> {
        let sealed = codec::seal_document(document, self.records())?;
        let insert =
            codec::bind_document_insert(sql(codec::INSERT_DOCUMENT.as_str()), document, sealed);
        if document.environment == crate::Environment::Live {
            insert.execute(self.db()).await?;
            self.documents_changed();
            return Ok(());
        }
        // A test document is listed in the same transaction, so its log lines stay test lines
        // (also after it is deleted: migration 0015).
        let mut tx = D::begin_write(&self.pool).await?;
        insert.execute(D::on_conn(&mut tx)).await?;
        sql("INSERT INTO test_documents (document_id) VALUES ($1)")
            .bind(document.id.as_str())
            .execute(D::on_conn(&mut tx))
            .await?;
        tx.commit().await.map_err(codec::db_error)?;
        self.documents_changed();
        Ok(())
    }

    async fn document(
        &self,
        tenant: &Tenant,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE producer_id = $1 AND environment = $2 AND id = $3"
        ))
        .bind(tenant.producer.as_str())
        .bind(tenant.environment.as_str())
        .bind(id.as_str())
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::document(&row, self.records()))
        .transpose()
    }

    async fn list_documents(
        &self,
        tenant: &Tenant,
        after: Option<&DocumentId>,
        limit: u32,
    ) -> Result<Vec<(DocumentId, String)>, RepoError> {
        // `$3 IS NULL OR id > $3`: one statement whether or not a cursor is given.
        sql("SELECT id, name FROM documents \
             WHERE producer_id = $1 AND environment = $2 \
               AND (CAST($3 AS TEXT) IS NULL OR id > $3) \
             ORDER BY id LIMIT $4")
        .bind(tenant.producer.as_str())
        .bind(tenant.environment.as_str())
        .bind(after.map(DocumentId::as_str))
        .bind(codec::limit(limit))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(codec::listing)
        .collect()
    }

    async fn replace_document(
        &self,
        document: &DocumentRecord,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<bool, RepoError> {
        let sealed = codec::seal_document(document, self.records())?;
        let done =
            codec::bind_document_changes(sql(codec::REPLACE_DOCUMENT.as_str()), document, sealed)
                .bind(document.producer_id.as_str())
                .bind(document.id.as_str())
                .bind(millis(expected_last_modified))
                .execute(self.db())
                .await?;
        // Every PUT of a part, and every replacement, comes through here.
        self.documents_changed();
        Ok(done == 1)
    }

    async fn delete_document_if(
        &self,
        tenant: &Tenant,
        id: &DocumentId,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        let when = Some(millis(expected_last_modified));
        self.delete_where(&tenant.producer, Some(tenant.environment), id, when)
            .await
    }

    async fn expired_documents(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(ProducerId, DocumentId)>, RepoError> {
        sql(
            "SELECT producer_id, id FROM documents WHERE expiration <= $1 \
             ORDER BY expiration, id LIMIT $2",
        )
        .bind(millis(now))
        .bind(codec::limit(limit))
        .fetch_all(self.db())
        .await?
        .iter()
        .map(codec::expired)
        .collect()
    }

    async fn delete_document(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        self.delete_where(producer, None, id, None).await
    }

    async fn reseal_records(&self) -> Result<u64, RepoError> {
        self.reseal_all().await
    }
}

impl<D: Dialect> SqlRepository<D> {
    /// Deletes the document row, its object row (the wrapped data key) and its attribution rows
    /// (`views::wipe_views`) in one transaction,
    /// when it is in `environment` (any when `None`) and `expected_last_modified` is `None` or
    /// still matches.
    async fn delete_where(
        &self,
        producer: &ProducerId,
        environment: Option<crate::Environment>,
        id: &DocumentId,
        expected_last_modified: Option<i64>,
    ) -> Result<Option<DocumentRecord>, RepoError> {
        let mut tx = D::begin_write(&self.pool).await?;
        let Some(row) = sql(concat!(
            "DELETE FROM documents WHERE producer_id = $1 AND id = $2 \
             AND (CAST($3 AS BIGINT) IS NULL OR last_modified = $3) \
             AND (CAST($4 AS TEXT) IS NULL OR environment = $4) RETURNING ",
            document_columns!()
        ))
        .bind(producer.as_str())
        .bind(id.as_str())
        .bind(expected_last_modified)
        .bind(environment.map(crate::Environment::as_str))
        .fetch_optional(D::on_conn(&mut tx))
        .await?
        else {
            return Ok(None);
        };
        let document = codec::document(&row, self.records())?;
        sql("DELETE FROM objects WHERE key = $1")
            .bind(document.object_key.as_str())
            .execute(D::on_conn(&mut tx))
            .await?;
        wipe_deliveries::<D>(&mut tx, producer, id).await?;
        super::views::wipe_views::<D>(&mut tx, id).await?;
        tx.commit().await.map_err(codec::db_error)?;
        self.documents_changed();
        D::after_delete(&self.pool);
        Ok(Some(document))
    }
}

/// A deleted document's deliveries outlive it (their status stays readable), but not the viewer
/// data, fulfillment secrets and captured messages they copied: wiped in the deletion's
/// transaction (issue 14, finding 8; migration 0015).
async fn wipe_deliveries<D: Dialect>(
    tx: &mut D::Connection,
    producer: &ProducerId,
    id: &DocumentId,
) -> Result<(), RepoError> {
    sql(
        "UPDATE delivery_jobs SET viewer = '{\"fields\":{},\"token\":[]}', captured = NULL \
         WHERE delivery_id IN \
         (SELECT id FROM deliveries WHERE producer_id = $1 AND document_id = $2)",
    )
    .bind(producer.as_str())
    .bind(id.as_str())
    .execute(D::on_conn(tx))
    .await?;
    sql("UPDATE deliveries SET fulfillment = '{}', secrets = NULL \
         WHERE producer_id = $1 AND document_id = $2")
    .bind(producer.as_str())
    .bind(id.as_str())
    .execute(D::on_conn(tx))
    .await?;
    Ok(())
}
