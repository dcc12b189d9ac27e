//! Streaming, verified download of a whole object or of a plaintext range.
//!
//! - `local`: a local store's batches, one positioned read into a recycled buffer each.
//! - `budget`: how large later batches are, from the number of downloads running.

mod budget;
mod local;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use budget::Active;
use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use local::LocalObject;
use object_store::path::Path as Location;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt as _};
use schema::{ObjectKey, ObjectRecord, RepoError};

use super::Vault;
use crate::cipher::{CipherError, HEADER_LEN, Header, SegmentDecryptor, TAG_LEN};
use crate::error::VaultError;

/// Segments of the first batch, read and checked before the status line. `object_store`'s
/// default byte stream reads a local file in 8 KiB blocks (a third of the speed of a plain read,
/// measured); whole aligned segments go at close to disk speed, and 16 × 64 KiB keeps the
/// first answer at ~1 MiB. Later batches are sized by [`budget`].
const SEGMENTS_PER_READ: u64 = 16;
/// Cap on the first batch for large segment sizes.
const MAX_READ_BYTES: u64 = 4 * 1024 * 1024;

/// A verified plaintext stream. An item is an `Err` (and the last one) as soon as anything fails
/// to authenticate; bytes already yielded were authenticated, no unauthenticated byte ever is.
pub struct ObjectReader {
    /// Plaintext size of the whole object (also for a range).
    pub size: u64,
    /// Lowercase hex SHA-1 of the whole plaintext, as recorded at upload.
    pub sha1_hex: String,
    pub stream: BoxStream<'static, Result<Bytes, VaultError>>,
}

impl fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectReader")
            .field("size", &self.size)
            .field("sha1_hex", &self.sha1_hex)
            .finish_non_exhaustive()
    }
}

/// What `open` learned: the row's facts, the checked header and the first bytes fetched.
struct Opened {
    size: u64,
    sha1_hex: String,
    decryptor: SegmentDecryptor,
    location: Location,
    /// Ciphertext already fetched, starting at offset 0.
    prefix: Bytes,
}

/// Plans the batches of segments `next..end`; each batch is then fetched and decrypted on its
/// own ([`Batch::run`]), so the next one can be read and decrypted while the current one is
/// being sent (see [`PREFETCH`]).
pub(super) struct Segments {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) location: Location,
    decryptor: Arc<SegmentDecryptor>,
    size: u64,
    count: u64,
    next: u64,
    end: u64,
    /// Segments of the first batch; later ones are sized by [`budget::later_batch`].
    batch: u64,
    /// Ciphertext already fetched by `open`, starting at offset 0 (only useful once).
    prefix: Bytes,
    /// A local store's open file (`None`: a remote store, read through `object_store`).
    local: Option<Arc<LocalObject>>,
    /// Counts this download among those running while it lives (sizes later batches).
    active: Active,
    /// Whether the first batch was planned.
    started: bool,
}

/// Batches in flight at once, read and decrypted while an earlier one is being sent.
const PREFETCH: usize = 2;

/// One batch: segments `first..upto`, whose ciphertext is `range` of the stored object.
pub(super) struct Batch {
    store: Arc<dyn ObjectStore>,
    location: Location,
    decryptor: Arc<SegmentDecryptor>,
    size: u64,
    count: u64,
    first: u64,
    upto: u64,
    pub(super) range: Range<u64>,
    /// The prefix fetched by `open`, when it covers `range`.
    prefix: Option<Bytes>,
    /// The ciphertext of exactly `range`, when a streamed read already brought it
    /// (`super::remote_read`).
    pub(super) fetched: Option<Bytes>,
    /// A local store's open file, read directly ([`local`]).
    local: Option<Arc<LocalObject>>,
}

impl Segments {
    /// The ciphertext of every segment not planned yet, `None` when none is left.
    pub(super) fn remaining(&self) -> Result<Option<Range<u64>>, VaultError> {
        if self.next >= self.end {
            return Ok(None);
        }
        let header = self.decryptor.header();
        let bounds = |index| {
            header
                .segment_range(self.size, index)
                .map_err(VaultError::Integrity)
        };
        Ok(Some(bounds(self.next)?.start..bounds(self.end - 1)?.end))
    }

    /// The next batch to fetch, `None` when every segment is planned.
    pub(super) fn plan(&mut self) -> Result<Option<Batch>, VaultError> {
        if self.next >= self.end {
            return Ok(None);
        }
        let header = self.decryptor.header();
        let batch = if self.started {
            budget::later_batch(
                u64::from(header.segment_size()) + TAG_LEN as u64,
                &self.active,
            )
        } else {
            self.batch
        };
        self.started = true;
        let upto = self.end.min(self.next.saturating_add(batch));
        let segment_range = |index| {
            header
                .segment_range(self.size, index)
                .map_err(VaultError::Integrity)
        };
        let range = segment_range(self.next)?.start..segment_range(upto - 1)?.end;
        let prefix = std::mem::take(&mut self.prefix);
        let batch = Batch {
            store: Arc::clone(&self.store),
            location: self.location.clone(),
            decryptor: Arc::clone(&self.decryptor),
            size: self.size,
            count: self.count,
            first: self.next,
            upto,
            prefix: (range.end <= prefix.len() as u64).then_some(prefix),
            range,
            fetched: None,
            local: self.local.clone(),
        };
        self.next = upto;
        Ok(Some(batch))
    }
}

impl Batch {
    /// Fetches the batch's ciphertext and decrypts it off the async workers, so that it
    /// overlaps with sending the previous batch. Returns each segment's whole plaintext, in
    /// order, once every segment of the batch has authenticated (none of it otherwise).
    async fn run(mut self) -> Result<Vec<Bytes>, VaultError> {
        let ciphertext = match (self.fetched.take(), &self.prefix, self.local.clone()) {
            (Some(fetched), _, _) => fetched,
            (None, Some(prefix), _) => {
                prefix.slice(self.range.start as usize..self.range.end as usize)
            }
            // One blocking task reads and decrypts: no second hand-off.
            (None, None, Some(local)) => {
                return tokio::task::spawn_blocking(move || self.read_local(&local))
                    .await
                    .map_err(|_| VaultError::Task)?;
            }
            (None, None, None) => self.fetch().await?,
        };
        tokio::task::spawn_blocking(move || self.decrypt(ciphertext))
            .await
            .map_err(|_| VaultError::Task)?
    }

    async fn fetch(&self) -> Result<Bytes, VaultError> {
        let wanted = self.range.end - self.range.start;
        let data = self
            .store
            .get_range(&self.location, self.range.clone())
            .await
            .map_err(not_found_is_integrity)?;
        if data.len() as u64 != wanted {
            // The object changed under us since `open` measured it.
            return Err(VaultError::Integrity(CipherError::Length {
                expected: wanted,
                actual: data.len() as u64,
            }));
        }
        Ok(data)
    }

    /// Reads the batch from the local file into a recycled buffer and decrypts it there.
    fn read_local(&self, local: &LocalObject) -> Result<Vec<Bytes>, VaultError> {
        let len = usize::try_from(self.range.end - self.range.start).unwrap_or(usize::MAX);
        let mut buffer = local.read(self.range.start, len)?;
        let plaintext = self.open_segments(buffer.as_mut_slice())?;
        let buffer = buffer.into_bytes();
        Ok(plaintext
            .into_iter()
            .map(|part| buffer.slice(part))
            .collect())
    }

    fn decrypt(&self, ciphertext: Bytes) -> Result<Vec<Bytes>, VaultError> {
        // A fresh read is uniquely owned: decrypt it in place without copying.
        let mut ciphertext = ciphertext
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let plaintext = self.open_segments(&mut ciphertext)?;
        let buffer = ciphertext.freeze();
        Ok(plaintext
            .into_iter()
            .map(|part| buffer.slice(part))
            .collect())
    }

    /// Authenticates and decrypts, in place, every segment of the batch's ciphertext; returns
    /// where each segment's plaintext lies. Fails at the first segment that does not
    /// authenticate, and then nothing of the batch may be used.
    fn open_segments(&self, ciphertext: &mut [u8]) -> Result<Vec<Range<usize>>, VaultError> {
        let header = self.decryptor.header();
        let mut plaintext = Vec::with_capacity((self.upto - self.first) as usize);
        let mut offset = 0;
        for index in self.first..self.upto {
            let bounds = header
                .segment_range(self.size, index)
                .map_err(VaultError::Integrity)?;
            let segment_len = usize::try_from(bounds.end - bounds.start).unwrap_or(usize::MAX);
            let end = offset + segment_len.min(ciphertext.len() - offset);
            let is_last = index + 1 == self.count;
            let plain_len = self
                .decryptor
                .decrypt_in_place(index, is_last, &mut ciphertext[offset..end])
                .map_err(VaultError::Integrity)?
                .len();
            plaintext.push(offset..offset + plain_len);
            offset = end;
        }
        Ok(plaintext)
    }
}

/// Trims decrypted segments to the requested plaintext range, in stream order.
struct Trim {
    /// Plaintext bytes to drop from the first segment, and to hand out in total.
    skip: usize,
    remaining: u64,
}

impl Trim {
    fn apply(&mut self, segments: Vec<Bytes>) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(segments.len());
        for mut segment in segments {
            segment.advance(self.skip.min(segment.len()));
            self.skip = 0;
            segment.truncate(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            self.remaining -= segment.len() as u64;
            if !segment.is_empty() {
                out.push(segment);
            }
        }
        out
    }
}

/// The row says the object exists, so a blob missing now is damage (an object cut to nothing),
/// not absence.
pub(super) fn missing() -> VaultError {
    VaultError::Integrity(CipherError::Shape { ciphertext_len: 0 })
}

pub(super) fn not_found_is_integrity(error: object_store::Error) -> VaultError {
    match error {
        object_store::Error::NotFound { .. } => missing(),
        other => VaultError::Store(other),
    }
}

impl Vault {
    /// Opens a finished object for reading. Checks made before returning (so a caller can still
    /// answer with an error status): the row, the data key, the header, the ciphertext length
    /// against the recorded size, and the first batch of segments — all of a small object.
    pub async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, VaultError> {
        self.read_whole(key, None).await
    }

    /// As [`read`](Self::read), with the object's row already read by the caller (the handle
    /// endpoint reads it with the document, in one query).
    pub async fn read_loaded(&self, row: ObjectRecord) -> Result<ObjectReader, VaultError> {
        let key = row.key.clone();
        self.read_whole(&key, Some(row)).await
    }

    async fn read_whole(
        &self,
        key: &ObjectKey,
        loaded: Option<ObjectRecord>,
    ) -> Result<ObjectReader, VaultError> {
        let first_read =
            HEADER_LEN as u64 + SEGMENTS_PER_READ * (u64::from(self.segment_size) + TAG_LEN as u64);
        let opened = self.open(key, loaded, first_read).await?;
        let whole = 0..opened.size;
        self.stream(opened, whole).await
    }

    /// Opens plaintext bytes `start..=end_inclusive` of a finished object, fetching and
    /// decrypting only the segments that hold them (for HTTP Range requests).
    pub async fn read_range(
        &self,
        key: &ObjectKey,
        start: u64,
        end_inclusive: u64,
    ) -> Result<ObjectReader, VaultError> {
        self.read_part(key, None, start..=end_inclusive).await
    }

    /// As [`read_range`](Self::read_range), with the object's row already read by the caller,
    /// as for [`read_loaded`](Self::read_loaded).
    pub async fn read_range_loaded(
        &self,
        row: ObjectRecord,
        start: u64,
        end_inclusive: u64,
    ) -> Result<ObjectReader, VaultError> {
        let key = row.key.clone();
        (self.read_part(&key, Some(row), start..=end_inclusive)).await
    }

    async fn read_part(
        &self,
        key: &ObjectKey,
        loaded: Option<ObjectRecord>,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<ObjectReader, VaultError> {
        let (start, end_inclusive) = range.into_inner();
        let opened = self.open(key, loaded, HEADER_LEN as u64).await?;
        if start > end_inclusive || end_inclusive >= opened.size {
            return Err(VaultError::InvalidRange { size: opened.size });
        }
        self.stream(opened, start..end_inclusive + 1).await
    }

    async fn open(
        &self,
        key: &ObjectKey,
        loaded: Option<ObjectRecord>,
        first_read: u64,
    ) -> Result<Opened, VaultError> {
        let (row, data_key) = self.row_and_data_key(key, loaded).await?;
        let (Some(size), Some(sha1_hex)) = (row.size, row.sha1) else {
            return Err(VaultError::NotFound); // still uploading
        };
        let size = u64::try_from(size)
            .map_err(|_| RepoError::Corrupt(format!("object {key} has a negative size")))?;
        let location = Self::location(key);
        let (stored_len, prefix) = self.fetch_prefix(&location, first_read).await?;
        let header = Header::parse(&prefix).map_err(VaultError::Integrity)?;
        let expected = header
            .ciphertext_len(size)
            .ok_or(VaultError::Integrity(CipherError::TooLong))?;
        if stored_len != expected {
            return Err(VaultError::Integrity(CipherError::Length {
                expected,
                actual: stored_len,
            }));
        }
        let decryptor = SegmentDecryptor::new(&data_key, header).map_err(VaultError::Integrity)?;
        Ok(Opened {
            size,
            sha1_hex,
            decryptor,
            location,
            prefix,
        })
    }

    /// The object's length and its first `first_read` bytes (fewer if it is shorter), in one
    /// request: the length comes with the answer, no separate `head` needed.
    async fn fetch_prefix(
        &self,
        location: &Location,
        first_read: u64,
    ) -> Result<(u64, Bytes), VaultError> {
        let store = &self.inner.store;
        let options = GetOptions::new().with_range(Some(0..first_read));
        let result = match store.get_opts(location, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(missing()),
            // The only range a stored object cannot satisfy starts past its end: it is empty.
            Err(error) => match store.head(location).await {
                Ok(meta) if meta.size < HEADER_LEN as u64 => {
                    return Err(VaultError::Integrity(CipherError::Header));
                }
                _ => return Err(error.into()),
            },
        };
        let stored_len = result.meta.size;
        let prefix = result.bytes().await.map_err(not_found_is_integrity)?;
        let expected = first_read.min(stored_len);
        if prefix.len() as u64 != expected {
            return Err(VaultError::Integrity(CipherError::Length {
                expected,
                actual: prefix.len() as u64,
            }));
        }
        Ok((stored_len, prefix))
    }

    /// Decrypts the first batch now (its errors are `read`'s), the rest as the stream is polled.
    async fn stream(&self, opened: Opened, range: Range<u64>) -> Result<ObjectReader, VaultError> {
        let (sha1_hex, header) = (opened.sha1_hex, opened.decryptor.header());
        let count = header.segments_for(opened.size);
        let (segments, skip) = if range.is_empty() {
            (0..count, 0) // the empty object: its single empty segment is still authenticated
        } else {
            let span = header
                .span(opened.size, range.clone())
                .map_err(VaultError::Integrity)?;
            (span.segments, span.skip)
        };
        let stride = u64::from(header.segment_size()) + TAG_LEN as u64;
        let first_batch = (MAX_READ_BYTES / stride).clamp(1, SEGMENTS_PER_READ);
        // A local store's file is opened once, for the batches after the first. The location
        // is built from a typed key (`Vault::location`: plain path characters only), so it
        // maps onto the store's directory as `object_store` maps it.
        let local = match &self.inner.local_root {
            Some(root) if segments.end - segments.start > first_batch => {
                Some(LocalObject::open(root.join(opened.location.as_ref())).await?)
            }
            _ => None,
        };
        let mut plan = Segments {
            store: Arc::clone(&self.inner.store),
            location: opened.location,
            decryptor: Arc::new(opened.decryptor),
            size: opened.size,
            count,
            next: segments.start,
            end: segments.end,
            batch: first_batch,
            prefix: opened.prefix,
            local,
            active: Active::new(),
            started: false,
        };
        let mut trim = Trim {
            skip: usize::try_from(skip).unwrap_or(usize::MAX),
            remaining: range.end - range.start,
        };
        // The first batch is decrypted now, so its errors are the caller's to answer.
        let first = match plan.plan()? {
            Some(batch) => trim.apply(batch.run().await?),
            None => Vec::new(),
        };
        // Planned lazily, read and decrypted `PREFETCH` at a time. `buffered` keeps order, and
        // the stream ends at the first error: an error is yielded only after every byte before
        // it, and nothing after it. A remote store streams the rest in one request.
        let batches = if self.inner.local_root.is_none() {
            super::remote_read::streamed(plan)
        } else {
            stream::iter(std::iter::from_fn(move || plan.plan().transpose())).boxed()
        };
        let rest = batches
            .map(|batch| async move { batch?.run().await })
            .buffered(PREFETCH)
            .scan(false, |failed, item| {
                let done = *failed;
                *failed = item.is_err();
                std::future::ready((!done).then_some(item))
            })
            .map_ok(move |segments| trim.apply(segments));
        let stream = stream::once(async { Ok::<_, VaultError>(first) })
            .chain(rest)
            .map_ok(|batch| stream::iter(batch.into_iter().map(Ok::<_, VaultError>)))
            .try_flatten()
            .boxed();
        Ok(ObjectReader {
            size: opened.size,
            sha1_hex,
            stream,
        })
    }
}
