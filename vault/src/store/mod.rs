//! [`Vault`]: encrypted objects in an object store, their keys in the repository.
//!
//! - `put`: streaming, encrypting, abortable upload ([`Vault::put`], [`PendingObject`]).
//! - `read`: streaming, verified download of a whole object or a range ([`ObjectReader`]).
//! - `sweep`: start-up clean-up of whatever a crash left behind ([`SweepReport`]).
//! - `multipart`: S3 multipart uploads whose ids the rows record, so a sweep can abort them.
//! - `local_write`: a local store's uploads, written with direct I/O around the page cache.
//! - `keys`: unwrapping a row's data key and keeping new rows under the current KEK while a
//!   rotation runs (see `crate::rotate`).

mod keys;
mod local_write;
mod multipart;
mod put;
mod read;
mod remote_read;
mod sweep;

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3;
use object_store::local::LocalFileSystem;
use object_store::path::Path as Location;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt as _};
use schema::{ObjectKey, ObjectRepo};

use crate::cipher::{DEFAULT_SEGMENT_SIZE, Header};
use crate::error::VaultError;
use crate::keyring::{Keyring, LiveKeyring};

pub use read::ObjectReader;
pub use sweep::SweepReport;

/// Top-level folder of every object in the store.
const OBJECTS: &str = "objects";

/// The vault: cheap to clone (one `Arc`), shared by every request.
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
    /// Segment size for new objects; existing objects are read with the size in their header.
    segment_size: u32,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    /// Directory of a local store, where crashed uploads leave staging files to sweep.
    local_root: Option<PathBuf>,
    /// An S3 store's multipart API: uploads whose ids the rows record (`None`: the store's own
    /// `put_multipart`, as for a local directory, where a dead upload is a staging file).
    uploads: Option<multipart::Uploads>,
    /// The object rows (wrapped data keys); the vault never sees other tables.
    repo: Arc<dyn ObjectRepo>,
    /// Reloadable: `sealpost vault rotate-key` may replace the key file while we run.
    keyring: LiveKeyring,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("store", &self.inner.store.to_string())
            .field("local_root", &self.inner.local_root)
            .field("keyring", &self.inner.keyring)
            .field("segment_size", &self.segment_size)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// A vault over any object store. `local_root` is the directory of a local store (enables
    /// sweeping its staging files), `None` for remote stores.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        local_root: Option<PathBuf>,
        repo: Arc<dyn ObjectRepo>,
        keyring: Keyring,
    ) -> Self {
        Self::build(store, local_root, None, repo, keyring)
    }

    fn build(
        store: Arc<dyn ObjectStore>,
        local_root: Option<PathBuf>,
        uploads: Option<multipart::Uploads>,
        repo: Arc<dyn ObjectRepo>,
        keyring: Keyring,
    ) -> Self {
        let inner = Inner {
            store,
            local_root,
            uploads,
            repo,
            keyring: LiveKeyring::new(keyring),
        };
        Self {
            inner: Arc::new(inner),
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }

    /// A vault over a directory (created if needed). Writes are fsynced before they count as
    /// done, like a remote store's acknowledgement: a document row must never name a blob that a
    /// power cut can take back.
    pub fn local(
        root: &Path,
        repo: Arc<dyn ObjectRepo>,
        keyring: Keyring,
    ) -> Result<Self, VaultError> {
        let io_error = |source| VaultError::Io {
            path: root.to_owned(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io_error)?;
        let root = std::fs::canonicalize(root).map_err(io_error)?;
        let store = LocalFileSystem::new_with_prefix(&root)?.with_fsync(true);
        Ok(Self::new(Arc::new(store), Some(root), repo, keyring))
    }

    /// A vault over an S3-compatible bucket, its objects under `prefix` (`""`: the bucket's
    /// root). Uploads go through S3's multipart API with their ids recorded in the rows
    /// (see `multipart`), so that no crash leaves a pending upload the sweep cannot abort.
    pub fn s3(s3: AmazonS3, prefix: &str, repo: Arc<dyn ObjectRepo>, keyring: Keyring) -> Self {
        let prefix = Location::from(prefix);
        let uploads = multipart::Uploads::new(Arc::new(s3.clone()), prefix.clone());
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        };
        Self::build(store, None, Some(uploads), repo, keyring)
    }

    /// Uses `segment_size` plaintext bytes per segment for new objects (tests use tiny ones to
    /// cross many segment boundaries cheaply).
    pub fn with_segment_size(mut self, segment_size: u32) -> Result<Self, VaultError> {
        self.segment_size = Header::new(segment_size)
            .map_err(VaultError::Crypto)?
            .segment_size();
        Ok(self)
    }

    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The keyring as last loaded (a snapshot: a rotation may replace it on disk at any time).
    pub fn keyring(&self) -> Arc<Keyring> {
        self.inner.keyring.get()
    }

    /// Whether the store answers: a `HEAD` of a key no object ever has ("not found" is an
    /// answer). The readiness probe's object-store check; as cheap on S3 as on a disk.
    pub async fn store_reachable(&self) -> Result<(), object_store::Error> {
        let probe = Location::from(format!("{OBJECTS}/.readyz"));
        match self.inner.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Where an object's ciphertext lives: `objects/<first two characters>/<key>`. Always built
    /// from a typed key (22 base64url characters), so no input can name another path; the
    /// fan-out keeps directories of a local store small.
    pub fn location(key: &ObjectKey) -> Location {
        let key = key.as_str();
        Location::from_iter([OBJECTS, key.get(..2).unwrap_or(key), key])
    }

    /// Deletes an object, crypto-shredding first: the row (with the wrapped data key) goes
    /// before the blob, so once this row is gone no copy of the ciphertext can be decrypted,
    /// whether or not the blob deletion succeeds. A missing row or blob is not an error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.inner.repo.delete_object(key).await?;
        self.delete_blob(key).await
    }

    /// Discards an object that never finished (a failed upload, an orphan): aborts its
    /// multipart upload by the id its row records, then deletes row and blob. Should the abort
    /// fail, the row stays (with the id) for the next sweep to retry: deleting it would lose
    /// the only record of the pending upload.
    pub(crate) async fn discard(&self, key: &ObjectKey) -> Result<(), VaultError> {
        if let Some(uploads) = &self.inner.uploads
            && let Some(id) = self.inner.repo.object_upload(key).await?
        {
            uploads.abort(key, &id).await?;
        }
        self.delete(key).await
    }

    /// Deletes only the ciphertext, for callers that already deleted the row in their own
    /// transaction. A missing blob is not an error.
    pub async fn delete_blob(&self, key: &ObjectKey) -> Result<(), VaultError> {
        match self.inner.store.delete(&Self::location(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

impl crate::pending::ObjectOwner for Vault {
    async fn delete_object(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.delete(key).await
    }
}

/// Runs `cleanup` on the current tokio runtime; used from `Drop`, which cannot await. Without a
/// runtime (or if it shuts down first) the start-up [`Vault::sweep`] removes what is left.
pub(crate) fn spawn_cleanup(key: &ObjectKey, cleanup: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(cleanup)),
        Err(_) => {
            tracing::warn!(object = %key, "no runtime to clean up an abandoned object; the next sweep will")
        }
    }
}
