//! Streaming upload: hash, encrypt and store a body in bounded memory, leaving nothing behind
//! when it fails or is abandoned.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use object_store::{MultipartUpload, ObjectStoreExt as _, WriteMultipart};
use schema::{ObjectKey, ObjectRecord};
use sha1::{Digest as _, Sha1};

use super::local_write::{self, LocalWriter};
use super::{Vault, spawn_cleanup};
use crate::cipher::{Header, KEY_LEN, OffThreadDigest, SegmentEncryptor};
use crate::error::VaultError;
use crate::keyring::random_bytes;
use crate::pending::PendingObject;

/// Multipart part size: S3 refuses parts under 5 MiB (but the last).
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts uploading at once. With [`FLUSH_AT`] this bounds an upload's memory to about
/// `PART_SIZE * (MAX_PARTS_IN_FLIGHT + 1) + FLUSH_AT`, whatever the document's size.
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Ciphertext gathered before it is handed to the multipart writer (fewer, larger writes).
const FLUSH_AT: usize = 256 * 1024;
/// Room reserved for each gathered buffer: [`FLUSH_AT`] plus what one more piece of the body
/// adds (64 KiB multipart chunks, sealed). Grown from empty instead, the buffer was reallocated
/// and copied at each doubling: 10 % of the parsing thread's samples on a 256 MiB upload.
const OUT_CAPACITY: usize = FLUSH_AT + 128 * 1024;

/// Where an upload's ciphertext goes.
enum Sink {
    /// A local directory: our own writer, direct I/O around the page cache (`local_write`).
    Local(LocalWriter),
    /// Any other store (S3): multipart parts, two in flight.
    Parts(WriteMultipart),
}

impl Sink {
    /// An empty buffer for the sealed bytes of the next hand-over.
    fn buffer(&self) -> BytesMut {
        match self {
            Self::Local(_) => LocalWriter::buffer(),
            Self::Parts(_) => BytesMut::with_capacity(OUT_CAPACITY),
        }
    }

    /// Whether enough ciphertext is gathered to hand it over.
    fn full(&self, out: &BytesMut) -> bool {
        out.len()
            >= match self {
                Self::Local(_) => local_write::FLUSH_AT,
                Self::Parts(_) => FLUSH_AT,
            }
    }

    /// Hands the gathered ciphertext over, first waiting until few enough writes or parts are
    /// in flight: this is the back-pressure that keeps a fast client from filling memory.
    async fn send(&mut self, out: &mut BytesMut) -> Result<(), VaultError> {
        match self {
            Self::Local(writer) => writer.send(out).await,
            Self::Parts(writer) => {
                if !out.is_empty() {
                    writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
                    writer.put(out.split().freeze());
                    out.reserve(OUT_CAPACITY);
                }
                Ok(())
            }
        }
    }

    /// Writes the rest and makes the object durable under its key. Should this fail, the
    /// writer has removed its staging file or aborted its upload, and the caller's clean-up
    /// deletes the row (and any blob).
    async fn finish(self, mut out: BytesMut) -> Result<(), VaultError> {
        match self {
            Self::Local(writer) => writer.finish(out).await,
            Self::Parts(mut writer) => {
                if !out.is_empty() {
                    writer.put(out.split().freeze());
                }
                writer.finish().await?;
                Ok(())
            }
        }
    }

    async fn abort(self, key: &ObjectKey) {
        match self {
            Self::Local(writer) => writer.abort().await,
            Self::Parts(writer) => {
                if let Err(error) = writer.abort().await {
                    tracing::warn!(object = %key, error = %error, "could not abort an upload; the next sweep will clean it");
                }
            }
        }
    }
}

/// An upload in progress. Created before the object's row exists; until it is disarmed, its
/// drop (the `put` future dropped by a client disconnect) aborts the multipart upload (or
/// removes the staging file) and deletes row and blob in a spawned task.
struct Upload {
    vault: Vault,
    key: ObjectKey,
    writer: Option<Sink>,
    armed: bool,
}

impl Upload {
    /// Cleans up now (the error path, where the caller can wait for it).
    async fn fail(mut self) {
        self.armed = false;
        cleanup(self.vault.clone(), self.key.clone(), self.writer.take()).await;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.armed {
            spawn_cleanup(
                &self.key,
                cleanup(self.vault.clone(), self.key.clone(), self.writer.take()),
            );
        }
    }
}

/// Stops the writer's part uploads and aborts it (or removes the local staging file), then
/// [`Vault::discard`]s the object: on S3 that aborts the upload again by its recorded id, which
/// also covers a writer already consumed (`WriteMultipart::finish` does not always abort when
/// a part failed). A second abort of the same upload is a harmless "no such upload".
async fn cleanup(vault: Vault, key: ObjectKey, writer: Option<Sink>) {
    if let Some(writer) = writer {
        writer.abort(&key).await;
    }
    if let Err(error) = vault.discard(&key).await {
        tracing::warn!(object = %key, error = %error, "could not discard a failed upload; the next sweep will");
    }
}

impl Vault {
    /// Stores `body` encrypted under a fresh data key, computing its size and SHA-1 on the way.
    ///
    /// The object's row (with the wrapped data key) is written before any byte reaches the store,
    /// so a crash at any point leaves something [`sweep`](Self::sweep) can find. On a body error
    /// ([`VaultError::Source`]), a body over `max_size` bytes ([`VaultError::TooLarge`]) or a
    /// store error, the upload is aborted and row and blob are deleted before this returns; if
    /// the future is dropped midway, the same clean-up runs in a spawned task. Only ciphertext
    /// is ever written, and memory stays bounded whatever the body's size.
    ///
    /// The body need not be `Send` (actix-multipart's fields are not); the future is `Send`
    /// whenever the body is.
    pub async fn put<S, E>(&self, body: S, max_size: u64) -> Result<PendingObject, VaultError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let key = ObjectKey::random();
        let data_key = random_bytes::<KEY_LEN>()?;
        let (kek_id, wrapped_dek) = self.wrap_new(&data_key, &key)?;
        let mut upload = Upload {
            vault: self.clone(),
            key: key.clone(),
            writer: None,
            armed: true,
        };
        let record = ObjectRecord {
            key: key.clone(),
            kek_id: kek_id.clone(),
            wrapped_dek,
            size: None,
            sha1: None,
            created_at: chrono::Utc::now(),
        };
        let inserted = match self.inner.repo.insert_object(&record).await {
            Ok(()) => self.keep_under_current_key(&key, &kek_id, &data_key).await,
            Err(error) => Err(error.into()),
        };
        let stored = match inserted {
            Ok(()) => {
                self.store_body(&mut upload, &data_key, body, max_size)
                    .await
            }
            Err(error) => Err(error),
        };
        let finished = match stored {
            Ok((size, sha1_hex)) => self
                .finish(&key, size, &sha1_hex)
                .await
                .map(|()| (size, sha1_hex)),
            Err(error) => Err(error),
        };
        match finished {
            Ok((size, sha1_hex)) => {
                upload.armed = false;
                Ok(PendingObject::new(self.clone(), key, size, sha1_hex))
            }
            Err(error) => {
                upload.fail().await;
                Err(error)
            }
        }
    }

    async fn finish(&self, key: &ObjectKey, size: u64, sha1_hex: &str) -> Result<(), VaultError> {
        let recorded = i64::try_from(size).map_err(|_| VaultError::TooLarge {
            limit: i64::MAX as u64,
        })?;
        Ok(self
            .inner
            .repo
            .finish_object(key, recorded, sha1_hex)
            .await?)
    }

    /// Streams the body into the store; returns its plaintext size and SHA-1.
    async fn store_body<S, E>(
        &self,
        upload: &mut Upload,
        data_key: &[u8; KEY_LEN],
        mut body: S,
        max_size: u64,
    ) -> Result<(u64, String), VaultError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let header = Header::new(self.segment_size).map_err(VaultError::Crypto)?;
        let mut encryptor = SegmentEncryptor::new(data_key, header).map_err(VaultError::Crypto)?;
        let writer = upload.writer.insert(self.sink(&upload.key).await?);
        // SHA-1 on the blocking pool while this task seals: the hash costs ~3x the seal.
        let hasher = OffThreadDigest::spawn(Sha1::new());
        let mut size = 0u64;
        let mut out = writer.buffer();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(VaultError::source_error)?;
            size = size.saturating_add(chunk.len() as u64);
            if size > max_size {
                return Err(VaultError::TooLarge { limit: max_size });
            }
            hasher.feed(&chunk).await;
            encryptor
                .update(&chunk, &mut out)
                .map_err(VaultError::Crypto)?;
            if writer.full(&out) {
                writer.send(&mut out).await?;
            }
        }
        encryptor.finish(&mut out).map_err(VaultError::Crypto)?;
        // Taken out of the guard to complete it (see `Sink::finish` for a failure).
        if let Some(writer) = upload.writer.take() {
            writer.finish(out).await?;
        }
        Ok((size, hasher.finish().await?))
    }

    /// The writer of a new object: S3 multipart through the recorded uploads, our own direct
    /// writer on a local directory, the store's own multipart upload otherwise.
    async fn sink(&self, key: &ObjectKey) -> Result<Sink, VaultError> {
        let multipart: Box<dyn MultipartUpload> =
            match (&self.inner.uploads, &self.inner.local_root) {
                (Some(uploads), _) => Box::new(uploads.start(self.inner.repo.as_ref(), key).await?),
                (None, Some(root)) => {
                    let dest = root.join(Self::location(key).as_ref());
                    return Ok(Sink::Local(LocalWriter::create(dest).await?));
                }
                (None, None) => self.inner.store.put_multipart(&Self::location(key)).await?,
            };
        Ok(Sink::Parts(WriteMultipart::new_with_chunk_size(
            multipart, PART_SIZE,
        )))
    }
}
