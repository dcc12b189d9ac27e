//! Multipart uploads on an S3-compatible store, their ids recorded in the object rows.
//!
//! S3 keeps the parts of a multipart upload (and bills them) until the upload is completed or
//! aborted, and no object listing shows them: only `ListMultipartUploads` does, which
//! `object_store` does not offer. `ObjectStore::put_multipart` keeps the upload id in memory,
//! so a vault killed mid-upload left a pending upload nobody could name. Here the upload is
//! created through [`MultipartStore`] instead, and its id is written into the object's row
//! (`objects.upload_id`, migration 0016) before the first part is sent; the orphan sweep then
//! aborts the upload of every orphan row by that id ([`Vault::discard`]) before deleting row and
//! blob. [`RecordedUpload`] adapts it to [`MultipartUpload`], so the same [`WriteMultipart`]
//! (parts, back-pressure) serves both stores.
//!
//! The window that remains: a crash between `CreateMultipartUpload` and the row's update (one
//! database round trip) leaves an upload whose id was never recorded. Operators should add a
//! bucket lifecycle rule `AbortIncompleteMultipartUpload` (a day or more, longer than any
//! upload) as the backstop for that and for a store unreachable at abort time.
//!
//! [`WriteMultipart`]: object_store::WriteMultipart

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Location;
use object_store::{MultipartId, MultipartUpload, PutPayload, PutResult, UploadPart};
use schema::{ObjectKey, ObjectRepo};

use super::Vault;
use crate::error::VaultError;

/// The store's multipart API, with the prefix of `s3://bucket/prefix` applied (a
/// `PrefixStore` does not pass [`MultipartStore`] through, so the prefix is applied here, the
/// same way: its parts, then the location's).
#[derive(Clone)]
pub(crate) struct Uploads {
    store: Arc<dyn MultipartStore>,
    prefix: Location,
}

impl fmt::Debug for Uploads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uploads")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Uploads {
    pub(crate) fn new(store: Arc<dyn MultipartStore>, prefix: Location) -> Self {
        Self { store, prefix }
    }

    /// Where an object lives in the bucket (prefix included).
    fn path(&self, key: &ObjectKey) -> Location {
        self.prefix
            .parts()
            .chain(Vault::location(key).parts())
            .collect()
    }

    /// Creates the multipart upload of `key` and records its id in the row (which exists
    /// already). Should recording fail, the upload is aborted at once.
    pub(crate) async fn start(
        &self,
        repo: &dyn ObjectRepo,
        key: &ObjectKey,
    ) -> Result<RecordedUpload, VaultError> {
        let path = self.path(key);
        let id = self.store.create_multipart(&path).await?;
        if let Err(error) = repo.record_upload(key, &id).await {
            self.abort(key, &id).await?;
            return Err(error.into());
        }
        let state = State {
            store: Arc::clone(&self.store),
            path,
            id,
            parts: Mutex::default(),
        };
        Ok(RecordedUpload {
            state: Arc::new(state),
            next: 0,
        })
    }

    /// Aborts `key`'s upload `id`; one already aborted or completed (S3's `NoSuchUpload`, a
    /// 404) is not an error.
    pub(crate) async fn abort(&self, key: &ObjectKey, id: &str) -> Result<(), VaultError> {
        let id: MultipartId = id.to_owned();
        match self.store.abort_multipart(&self.path(key), &id).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// One multipart upload whose id is in its object's row.
#[derive(Debug)]
pub(crate) struct RecordedUpload {
    state: Arc<State>,
    /// Index of the next part.
    next: usize,
}

struct State {
    store: Arc<dyn MultipartStore>,
    path: Location,
    id: MultipartId,
    /// Finished parts by index (parts finish in any order).
    parts: Mutex<Vec<Option<PartId>>>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Every part `0..count`, in order; an error if one never finished.
    fn finished_parts(&self, count: usize) -> object_store::Result<Vec<PartId>> {
        let parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        (0..count)
            .map(|index| {
                parts
                    .get(index)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| object_store::Error::Generic {
                        store: "S3",
                        source: format!("part {index} of the upload never finished").into(),
                    })
            })
            .collect()
    }
}

#[async_trait]
impl MultipartUpload for RecordedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let index = self.next;
        self.next += 1;
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            let part = state
                .store
                .put_part(&state.path, &state.id, index, data)
                .await?;
            let mut parts = state.parts.lock().unwrap_or_else(PoisonError::into_inner);
            if parts.len() <= index {
                parts.resize(index + 1, None);
            }
            parts[index] = Some(part);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let parts = self.state.finished_parts(self.next)?;
        let state = &self.state;
        state
            .store
            .complete_multipart(&state.path, &state.id, parts)
            .await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        let state = &self.state;
        state.store.abort_multipart(&state.path, &state.id).await
    }
}
