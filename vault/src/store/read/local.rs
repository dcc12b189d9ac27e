//! Batches of a local store: one positioned read into a buffer the download reuses, decrypted in
//! place in the same blocking task.
//!
//! Profiled on a 256 MiB download (issue 20, `perf record` of `sealpost up`): through
//! `object_store`'s `get_range`, 4.4 % of the server's CPU went to zeroing a fresh buffer for
//! every batch, and each batch took two hand-offs to the blocking pool (the store's read, then the
//! decryption). Here the file is opened once per download, each batch is one `pread` into a
//! buffer recycled from the download's earlier batches (zeroed once, when first allocated), and
//! the same blocking task authenticates and decrypts it.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;

use crate::cipher::CipherError;
use crate::error::VaultError;

/// Buffers a download keeps for reuse: as many as can be alive at once (the batches in flight
/// and the one being sent).
const KEPT: usize = super::PREFETCH + 1;

/// One download's open object file and its spare buffers.
pub(in crate::store) struct LocalObject {
    path: PathBuf,
    file: File,
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl LocalObject {
    /// Opens the object's file (off the async workers).
    pub(super) async fn open(path: PathBuf) -> Result<Arc<Self>, VaultError> {
        let opened = path.clone();
        let file = tokio::task::spawn_blocking(move || File::open(&opened))
            .await
            .map_err(|_| VaultError::Task)?;
        let file = file.map_err(|source| match source.kind() {
            // The row says the object exists: a file missing now is damage, not absence.
            std::io::ErrorKind::NotFound => super::missing(),
            _ => VaultError::Io {
                path: path.clone(),
                source,
            },
        })?;
        Ok(Arc::new(Self {
            path,
            file,
            spare: Arc::default(),
        }))
    }

    /// Reads exactly `len` bytes at `offset` into a recycled buffer; a short file is damage.
    /// Blocking: call it on the blocking pool.
    pub(super) fn read(&self, offset: u64, len: usize) -> Result<Recycled, VaultError> {
        let mut buffer = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        // Only bytes never used before are zeroed: a recycled buffer is overwritten as it is.
        buffer.resize(len, 0);
        match self.file.read_exact_at(&mut buffer, offset) {
            Ok(()) => Ok(Recycled {
                buffer,
                home: Arc::downgrade(&self.spare),
            }),
            // The object is shorter than `open` measured: it changed under us.
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(VaultError::Integrity(CipherError::Length {
                    expected: offset + len as u64,
                    actual: offset,
                }))
            }
            Err(source) => Err(VaultError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// A batch's buffer: returned to its download's spares when the last [`Bytes`] cut from it is
/// dropped (actix-web copies each chunk into its write buffer at once, so that is soon).
pub(super) struct Recycled {
    buffer: Vec<u8>,
    home: Weak<Mutex<Vec<Vec<u8>>>>,
}

impl Recycled {
    pub(super) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buffer
    }

    /// The buffer as shared bytes, to be sliced into each segment's plaintext.
    pub(super) fn into_bytes(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        if let Some(home) = self.home.upgrade() {
            let mut spare = home.lock().unwrap_or_else(PoisonError::into_inner);
            if spare.len() < KEPT {
                spare.push(std::mem::take(&mut self.buffer));
            }
        }
    }
}
