//! The object header and the arithmetic of segment positions and lengths.

use std::ops::Range;

use super::{CipherError, HEADER_LEN, MAGIC, MAX_SEGMENT_SIZE, TAG_LEN, VERSION};

/// The 16-byte object header: `b"SPV1"`, version 1, 3 zero bytes, the segment size (u32
/// big-endian), 4 zero bytes. Only headers of exactly that shape parse, so re-encoding a parsed
/// header gives back the stored bytes (they are the associated data of every segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Plaintext bytes per segment. Written in the header, never change: it fixes where every
    /// segment of an existing object starts, so each object is read with its own value.
    segment_size: u32,
}

/// Which segments, and which ciphertext bytes, hold a plaintext range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Indices of the segments touched.
    pub segments: Range<u64>,
    /// Byte range of those segments within the stored object.
    pub ciphertext: Range<u64>,
    /// Plaintext bytes to skip at the start of the first segment.
    pub skip: u64,
}

impl Header {
    pub fn new(segment_size: u32) -> Result<Self, CipherError> {
        if (1..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            Ok(Self { segment_size })
        } else {
            Err(CipherError::SegmentSize(segment_size))
        }
    }

    /// Parses the first [`HEADER_LEN`] bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, CipherError> {
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(CipherError::Header)?;
        if header[..4] != MAGIC
            || header[4] != VERSION
            || header[5..8] != [0; 3]
            || header[12..] != [0; 4]
        {
            return Err(CipherError::Header);
        }
        Self::new(u32::from_be_bytes([
            header[8], header[9], header[10], header[11],
        ]))
    }

    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4] = VERSION;
        bytes[8..12].copy_from_slice(&self.segment_size.to_be_bytes());
        bytes
    }

    pub fn segment_size(self) -> u32 {
        self.segment_size
    }

    /// Stored bytes per full segment.
    pub(crate) fn stride(self) -> u64 {
        u64::from(self.segment_size) + TAG_LEN as u64
    }

    /// Number of segments for a plaintext of `plaintext_len` bytes (at least one).
    pub fn segments_for(self, plaintext_len: u64) -> u64 {
        plaintext_len.div_ceil(u64::from(self.segment_size)).max(1)
    }

    /// Stored size of an object holding `plaintext_len` bytes; `None` past `u64`.
    pub fn ciphertext_len(self, plaintext_len: u64) -> Option<u64> {
        let tags = self
            .segments_for(plaintext_len)
            .checked_mul(TAG_LEN as u64)?;
        plaintext_len
            .checked_add(tags)?
            .checked_add(HEADER_LEN as u64)
    }

    /// Number of segments in a stored object of `ciphertext_len` bytes, refusing lengths no
    /// encryptor produces (no segments, a final segment shorter than a tag, an empty final
    /// segment after full ones).
    pub fn segment_count(self, ciphertext_len: u64) -> Result<u64, CipherError> {
        let shape = CipherError::Shape { ciphertext_len };
        let body = ciphertext_len
            .checked_sub(HEADER_LEN as u64)
            .ok_or(shape.clone())?;
        let count = body.div_ceil(self.stride());
        let last_len = body - count.saturating_sub(1) * self.stride();
        let tag = TAG_LEN as u64;
        if count == 0 || last_len < tag || (count > 1 && last_len == tag) {
            return Err(shape);
        }
        Ok(count)
    }

    /// Plaintext size of a stored object of `ciphertext_len` bytes.
    pub fn plaintext_len(self, ciphertext_len: u64) -> Result<u64, CipherError> {
        let count = self.segment_count(ciphertext_len)?;
        Ok(ciphertext_len - HEADER_LEN as u64 - count * TAG_LEN as u64)
    }

    /// Byte range of segment `index` in an object of `plaintext_len` bytes.
    pub fn segment_range(self, plaintext_len: u64, index: u64) -> Result<Range<u64>, CipherError> {
        let ciphertext_len = self
            .ciphertext_len(plaintext_len)
            .ok_or(CipherError::TooLong)?;
        let start = index
            .checked_mul(self.stride())
            .and_then(|offset| offset.checked_add(HEADER_LEN as u64))
            .filter(|start| *start < ciphertext_len)
            .ok_or(CipherError::Range {
                start: index,
                end: index,
                size: plaintext_len,
            })?;
        Ok(start..(start.saturating_add(self.stride())).min(ciphertext_len))
    }

    /// The segments holding plaintext bytes `range` of an object of `plaintext_len` bytes, for
    /// Range requests: only those segments need to be fetched and decrypted.
    pub fn span(self, plaintext_len: u64, range: Range<u64>) -> Result<SegmentSpan, CipherError> {
        if range.start >= range.end || range.end > plaintext_len {
            return Err(CipherError::Range {
                start: range.start,
                end: range.end,
                size: plaintext_len,
            });
        }
        let size = u64::from(self.segment_size);
        let (first, last) = (range.start / size, (range.end - 1) / size);
        let start = self.segment_range(plaintext_len, first)?.start;
        let end = self.segment_range(plaintext_len, last)?.end;
        Ok(SegmentSpan {
            segments: first..last + 1,
            ciphertext: start..end,
            skip: range.start - first * size,
        })
    }
}
