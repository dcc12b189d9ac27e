//! Documents as the services acting for viewers read them: the gateway by placeholder (without
//! the audience, which can hold 10,000 records), its audience on its own, and the vault by id.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, SqlRepository, sql};
use crate::codec::{self, document_columns};
use crate::gateway_codec as gc;
use crate::ids::{DocumentId, PlaceholderId};
use crate::model::{DocumentRecord, ViewerDocument};
use crate::repo::{RepoError, ViewerStore};

#[async_trait]
impl<D: Dialect> ViewerStore for SqlRepository<D> {
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

    async fn viewer_document(
        &self,
        placeholder: &PlaceholderId,
    ) -> Result<Option<ViewerDocument>, RepoError> {
        sql(D::texts().viewer_document.as_str())
            .bind(placeholder.as_str())
            .fetch_optional(self.db())
            .await?
            .map(|row| gc::viewer_document(&row, self.records()))
            .transpose()
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
