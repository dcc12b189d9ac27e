//! Streaming, verified download of a whole object or of a plaintext range.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as Location;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt as _};
use schema::{ObjectKey, RepoError};

use super::Vault;
use crate::cipher::{CipherError, HEADER_LEN, Header, SegmentDecryptor, TAG_LEN};
use crate::error::VaultError;

/// Segments fetched per store request. `object_store`'s default byte stream reads a local file
/// in 8 KiB blocks (a third of the speed of a plain read, measured); whole aligned segments
/// fetched with `get_range` go at close to disk speed, and 16 × 64 KiB keeps a reader at ~1 MiB.
const SEGMENTS_PER_READ: u64 = 16;
/// Cap on one request for large segment sizes.
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

/// Decrypts segments `next..end` batch by batch, trimming the plaintext to the requested range.
struct Segments {
    store: Arc<dyn ObjectStore>,
    location: Location,
    decryptor: SegmentDecryptor,
    size: u64,
    count: u64,
    next: u64,
    end: u64,
    batch: u64,
    /// Plaintext bytes to drop from the first segment, and to hand out in total.
    skip: usize,
    remaining: u64,
    prefix: Bytes,
}

impl Segments {
    async fn next_batch(&mut self) -> Result<Vec<Bytes>, VaultError> {
        let header = self.decryptor.header();
        let upto = self.end.min(self.next.saturating_add(self.batch));
        let size = self.size;
        let segment_range = move |index| {
            header
                .segment_range(size, index)
                .map_err(VaultError::Integrity)
        };
        let range = segment_range(self.next)?.start..segment_range(upto - 1)?.end;
        let mut ciphertext = BytesMut::from(&self.fetch(range).await?[..]);
        let mut plaintext = Vec::new();
        for index in self.next..upto {
            let bounds = segment_range(index)?;
            let segment_len = usize::try_from(bounds.end - bounds.start).unwrap_or(usize::MAX);
            let mut segment = ciphertext.split_to(segment_len.min(ciphertext.len()));
            let is_last = index + 1 == self.count;
            let plain = self
                .decryptor
                .decrypt_in_place(index, is_last, &mut segment)
                .map_err(VaultError::Integrity)?;
            let plain_len = plain.len();
            segment.truncate(plain_len);
            segment.advance(self.skip.min(plain_len));
            self.skip = 0;
            segment.truncate(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            self.remaining -= segment.len() as u64;
            if !segment.is_empty() {
                plaintext.push(segment.freeze());
            }
        }
        self.next = upto;
        Ok(plaintext)
    }

    /// Ciphertext bytes `range`, from the prefix fetched by `open` when it holds them.
    async fn fetch(&mut self, range: Range<u64>) -> Result<Bytes, VaultError> {
        let wanted = range.end - range.start;
        let prefix = std::mem::take(&mut self.prefix); // only ever useful once
        if range.end <= prefix.len() as u64 {
            return Ok(prefix.slice(range.start as usize..range.end as usize));
        }
        let data = self
            .store
            .get_range(&self.location, range)
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
}

/// The row says the object exists, so a blob missing now is damage (an object cut to nothing),
/// not absence.
fn missing() -> VaultError {
    VaultError::Integrity(CipherError::Shape { ciphertext_len: 0 })
}

fn not_found_is_integrity(error: object_store::Error) -> VaultError {
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
        let first_read =
            HEADER_LEN as u64 + SEGMENTS_PER_READ * (u64::from(self.segment_size) + TAG_LEN as u64);
        let opened = self.open(key, first_read).await?;
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
        let opened = self.open(key, HEADER_LEN as u64).await?;
        if start > end_inclusive || end_inclusive >= opened.size {
            return Err(VaultError::InvalidRange { size: opened.size });
        }
        self.stream(opened, start..end_inclusive + 1).await
    }

    async fn open(&self, key: &ObjectKey, first_read: u64) -> Result<Opened, VaultError> {
        let (row, data_key) = self.row_and_data_key(key).await?;
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
        let mut state = Segments {
            store: Arc::clone(&self.inner.store),
            location: opened.location,
            decryptor: opened.decryptor,
            size: opened.size,
            count,
            next: segments.start,
            end: segments.end,
            batch: (MAX_READ_BYTES / stride).clamp(1, SEGMENTS_PER_READ),
            skip: usize::try_from(skip).unwrap_or(usize::MAX),
            remaining: range.end - range.start,
            prefix: opened.prefix,
        };
        let first = state.next_batch().await?;
        let rest = stream::try_unfold(state, |mut state| async move {
            if state.next >= state.end {
                return Ok(None);
            }
            let batch = state.next_batch().await?;
            Ok::<_, VaultError>(Some((batch, state)))
        });
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
