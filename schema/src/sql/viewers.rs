//! Documents as the services acting for viewers read them: the gateway by placeholder (without
//! the audience, which can hold 10,000 records; cached up to 1 s, [`super::viewer_cache`]), its
//! audience on its own, and the vault by id.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::viewer_cache::ViewerCache;
use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, document_columns};
use crate::gateway_codec as gc;
use crate::ids::{DocumentId, PlaceholderId};
use crate::model::{DocumentRecord, Download, ViewerDocument};
use crate::repo::{RepoError, ViewerRepo};

#[async_trait]
impl<D: Dialect> ViewerRepo for SqlRepository<D> {
    async fn document_by_id(&self, id: &DocumentId) -> Result<Option<DocumentRecord>, RepoError> {
        sql(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.db())
        .await?
        .map(|row| codec::document(&row, self.records()))
        .transpose()
    }

    async fn download(&self, id: &DocumentId) -> Result<Option<Download>, RepoError> {
        let Some(row) = sql(DOWNLOAD.as_str())
            .bind(id.as_str())
            .fetch_optional(self.db())
            .await?
        else {
            return Ok(None);
        };
        let (object, signature) = codec::joined_object(&row)?;
        Ok(Some(Download {
            document: codec::document(&row, self.records())?,
            object,
            signature,
        }))
    }

    async fn viewer_document(
        &self,
        placeholder: &PlaceholderId,
    ) -> Result<Option<ViewerDocument>, RepoError> {
        if let Some(document) = self.viewers.get(placeholder) {
            return Ok(Some(document));
        }
        // Read before the row: a write committing meanwhile keeps this fill out of the cache.
        let generation = self.viewers.generation();
        let document = sql(D::texts().viewer_document.as_str())
            .bind(placeholder.as_str())
            .fetch_optional(self.db())
            .await?
            .map(|row| gc::viewer_document(&row, self.records()))
            .transpose()?;
        if let Some(document) = &document {
            self.viewers.store(document, generation);
        }
        Ok(document)
    }

    async fn document_audience(
        &self,
        id: &DocumentId,
    ) -> Result<Option<(Option<serde_json::Value>, DateTime<Utc>)>, RepoError> {
        sql("SELECT audience, last_modified FROM documents WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db())
            .await?
            .map(|row| gc::audience(&row, id.as_str(), self.records()))
            .transpose()
    }
}

impl<D: Dialect> SqlRepository<D> {
    /// Keeps the gateway's placeholder cache (`sql::viewer_cache`) `ttl` (at most
    /// [`super::VIEWER_CACHE_TTL`], 1 s: a longer one is cut to it) and at most `entries`
    /// documents; a zero `ttl` turns it off. The default is 1 s and
    /// [`super::VIEWER_CACHE_ENTRIES`].
    pub fn with_viewer_cache(mut self, ttl: std::time::Duration, entries: usize) -> Self {
        self.viewers = std::sync::Arc::new(ViewerCache::new(ttl, entries));
        self
    }

    /// A document changed: the placeholder cache serves nothing read before.
    pub(super) fn documents_changed(&self) {
        self.viewers.invalidate();
    }
}

/// The document (its columns qualified, under their own names), its object row and its
/// signature (under `o_` and `s_` aliases): built once from the column lists.
static DOWNLOAD: LazyLock<String> = LazyLock::new(|| {
    let document: Vec<String> = document_columns!()
        .split(", ")
        .map(|column| format!("d.{column}"))
        .collect();
    format!(
        "SELECT {}, o.key AS o_key, o.kek_id AS o_kek_id, o.wrapped_dek AS o_wrapped_dek, \
         o.size AS o_size, o.sha1 AS o_sha1, o.created_at AS o_created_at, \
         s.sha256 AS s_sha256, s.signature AS s_signature, s.signature_date AS s_signature_date \
         FROM documents d LEFT JOIN objects o ON o.key = d.object_key \
         LEFT JOIN object_signatures s ON s.object_key = d.object_key WHERE d.id = $1",
        document.join(", ")
    )
});
