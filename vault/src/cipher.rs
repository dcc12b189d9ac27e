//! Segment-wise AEAD for stored objects: pure computation, no I/O.
//!
//! An object is a 16-byte [`Header`] followed by segments. Each segment is the AES-256-GCM
//! ciphertext of up to `segment_size` plaintext bytes followed by its 16-byte tag; every segment
//! but the last holds exactly `segment_size` bytes, and the last holds at least one (an empty
//! plaintext is a single empty final segment, so cutting an object down to its header is caught).
//!
//! This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015): segment `i` is sealed
//! under the nonce `0x000000 ‖ i (u64 big-endian) ‖ last-flag`, where the flag byte is 1 only for
//! the final segment. Because the position is in the nonce, a segment moved, swapped or
//! duplicated fails to authenticate; because the flag is, dropping trailing segments (the new
//! "last" segment was sealed with flag 0) or appending one (the old last was sealed with flag 1)
//! fails too. The 16 header bytes are the associated data of every segment, so the header —
//! including the segment size — cannot be altered either.
//!
//! A counter nonce is safe here, and better than a random one, because every object is sealed
//! under its own fresh random 256-bit data key that is never used for anything else: a
//! (key, nonce) pair can only repeat if the counter does, and it never does within one object.
//!
//! Decryption either returns the exact plaintext of a segment or an error; it never hands out
//! unauthenticated bytes (ring's `open_in_place` only returns the plaintext once the tag matched).

use std::ops::Range;

use bytes::BytesMut;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// Length of a data key: AES-256.
pub const KEY_LEN: usize = 32;
/// Length of the object header.
pub const HEADER_LEN: usize = 16;
/// Length of the GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;
/// First four header bytes.
pub const MAGIC: [u8; 4] = *b"SPV1";
/// Format version (header byte 4).
pub const VERSION: u8 = 1;
/// Plaintext bytes per segment for new objects: 64 KiB. Large enough that the 16-byte tag and
/// the per-segment call cost vanish (~0.02 % overhead; `ring` decrypts 64 KiB frames at ~1 GB/s
/// per core here), small enough that a Range request decrypts little it does not need and an
/// upload or download holds only a few segments in memory.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Largest accepted segment size. The header comes from storage, so this bounds what a damaged
/// header can make a reader allocate.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;

/// Why a piece of ciphertext was refused (or, for `Key`/`Seal`, could not be produced).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("not a Sealpost object header (magic, version or reserved bytes)")]
    Header,
    #[error("segment size {0} is outside 1..={MAX_SEGMENT_SIZE}")]
    SegmentSize(u32),
    #[error("segment {segment} failed authentication")]
    Authentication { segment: u64 },
    #[error("segment {segment} has an impossible length of {len} bytes")]
    SegmentLength { segment: u64, len: usize },
    #[error("ciphertext length {ciphertext_len} is not a whole number of segments")]
    Shape { ciphertext_len: u64 },
    #[error("ciphertext is {actual} bytes, expected {expected}")]
    Length { expected: u64, actual: u64 },
    #[error("plaintext range {start}..{end} is outside an object of {size} bytes")]
    Range { start: u64, end: u64, size: u64 },
    #[error("object too large for this format")]
    TooLong,
    #[error("invalid data key")]
    Key,
    #[error("encryption failed")]
    Seal,
}

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
        if header[..4] != MAGIC || header[4] != VERSION || header[5..8] != [0; 3] || header[12..] != [0; 4] {
            return Err(CipherError::Header);
        }
        Self::new(u32::from_be_bytes([header[8], header[9], header[10], header[11]]))
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
    fn stride(self) -> u64 {
        u64::from(self.segment_size) + TAG_LEN as u64
    }

    /// Number of segments for a plaintext of `plaintext_len` bytes (at least one).
    pub fn segments_for(self, plaintext_len: u64) -> u64 {
        plaintext_len.div_ceil(u64::from(self.segment_size)).max(1)
    }

    /// Stored size of an object holding `plaintext_len` bytes; `None` past `u64`.
    pub fn ciphertext_len(self, plaintext_len: u64) -> Option<u64> {
        let tags = self.segments_for(plaintext_len).checked_mul(TAG_LEN as u64)?;
        plaintext_len.checked_add(tags)?.checked_add(HEADER_LEN as u64)
    }

    /// Number of segments in a stored object of `ciphertext_len` bytes, refusing lengths no
    /// encryptor produces (no segments, a final segment shorter than a tag, an empty final
    /// segment after full ones).
    pub fn segment_count(self, ciphertext_len: u64) -> Result<u64, CipherError> {
        let shape = CipherError::Shape { ciphertext_len };
        let body = ciphertext_len.checked_sub(HEADER_LEN as u64).ok_or(shape.clone())?;
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
        let ciphertext_len = self.ciphertext_len(plaintext_len).ok_or(CipherError::TooLong)?;
        let start = index
            .checked_mul(self.stride())
            .and_then(|offset| offset.checked_add(HEADER_LEN as u64))
            .filter(|start| *start < ciphertext_len)
            .ok_or(CipherError::Range { start: index, end: index, size: plaintext_len })?;
        Ok(start..(start.saturating_add(self.stride())).min(ciphertext_len))
    }

    /// The segments holding plaintext bytes `range` of an object of `plaintext_len` bytes, for
    /// Range requests: only those segments need to be fetched and decrypted.
    pub fn span(self, plaintext_len: u64, range: Range<u64>) -> Result<SegmentSpan, CipherError> {
        if range.start >= range.end || range.end > plaintext_len {
            return Err(CipherError::Range { start: range.start, end: range.end, size: plaintext_len });
        }
        let size = u64::from(self.segment_size);
        let (first, last) = (range.start / size, (range.end - 1) / size);
        let start = self.segment_range(plaintext_len, first)?.start;
        let end = self.segment_range(plaintext_len, last)?.end;
        Ok(SegmentSpan { segments: first..last + 1, ciphertext: start..end, skip: range.start - first * size })
    }
}

fn nonce(index: u64, is_last: bool) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[3..11].copy_from_slice(&index.to_be_bytes());
    bytes[11] = u8::from(is_last);
    Nonce::assume_unique_for_key(bytes)
}

fn aead_key(data_key: &[u8; KEY_LEN]) -> Result<LessSafeKey, CipherError> {
    UnboundKey::new(&AES_256_GCM, data_key).map(LessSafeKey::new).map_err(|_| CipherError::Key)
}

/// Encrypts a plaintext fed in pieces of any size. The last segment must carry the last-flag,
/// so a full segment is held back until more data (or [`finish`](Self::finish)) shows whether it
/// is the last: a plaintext that is an exact multiple of the segment size ends in a full segment.
pub struct SegmentEncryptor {
    key: LessSafeKey,
    header: [u8; HEADER_LEN],
    segment_size: usize,
    held: Vec<u8>,
    next_index: u64,
    header_written: bool,
}

impl SegmentEncryptor {
    pub fn new(data_key: &[u8; KEY_LEN], header: Header) -> Result<Self, CipherError> {
        let segment_size = usize::try_from(header.segment_size()).map_err(|_| CipherError::SegmentSize(header.segment_size()))?;
        Ok(Self {
            key: aead_key(data_key)?,
            header: header.to_bytes(),
            segment_size,
            held: Vec::new(),
            next_index: 0,
            header_written: false,
        })
    }

    /// Appends to `out` the header (on the first call) and every segment known not to be last.
    pub fn update(&mut self, mut plaintext: &[u8], out: &mut BytesMut) -> Result<(), CipherError> {
        self.write_header(out);
        while !plaintext.is_empty() {
            if self.held.len() == self.segment_size {
                // More plaintext follows, so the held segment is not the last one.
                let held = std::mem::take(&mut self.held);
                self.seal(&held, false, out)?;
                self.held = held;
                self.held.clear();
            }
            if self.held.is_empty() && plaintext.len() > self.segment_size {
                // A whole segment with more after it: seal it straight from the input.
                let (segment, rest) = plaintext.split_at(self.segment_size);
                self.seal(segment, false, out)?;
                plaintext = rest;
                continue;
            }
            if self.held.capacity() == 0 {
                self.held.reserve_exact(self.segment_size);
            }
            let take = (self.segment_size - self.held.len()).min(plaintext.len());
            self.held.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
        }
        Ok(())
    }

    /// Appends the final segment (flagged last; empty when the plaintext was empty).
    pub fn finish(mut self, out: &mut BytesMut) -> Result<(), CipherError> {
        self.write_header(out);
        let held = std::mem::take(&mut self.held);
        self.seal(&held, true, out)
    }

    fn write_header(&mut self, out: &mut BytesMut) {
        if !self.header_written {
            out.extend_from_slice(&self.header);
            self.header_written = true;
        }
    }

    fn seal(&mut self, plaintext: &[u8], is_last: bool, out: &mut BytesMut) -> Result<(), CipherError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(self.next_index, is_last), Aad::from(&self.header), &mut out[start..])
            .map_err(|_| CipherError::Seal)?;
        out.extend_from_slice(tag.as_ref());
        self.next_index = self.next_index.checked_add(1).ok_or(CipherError::TooLong)?;
        Ok(())
    }
}

/// Decrypts single segments of one object, in any order (Range requests start mid-object).
pub struct SegmentDecryptor {
    key: LessSafeKey,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
}

impl SegmentDecryptor {
    pub fn new(data_key: &[u8; KEY_LEN], header: Header) -> Result<Self, CipherError> {
        Ok(Self { key: aead_key(data_key)?, header, header_bytes: header.to_bytes() })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    /// Authenticates and decrypts segment `index` (ciphertext and tag) in place, returning the
    /// plaintext prefix of `segment`. `is_last` must say whether it is the object's final segment.
    pub fn decrypt_in_place<'a>(&self, index: u64, is_last: bool, segment: &'a mut [u8]) -> Result<&'a mut [u8], CipherError> {
        let len = segment.len();
        let full = usize::try_from(self.header.stride()).unwrap_or(usize::MAX);
        if len < TAG_LEN || len > full || (!is_last && len != full) {
            return Err(CipherError::SegmentLength { segment: index, len });
        }
        self.key
            .open_in_place(nonce(index, is_last), Aad::from(&self.header_bytes), segment)
            .map_err(|_| CipherError::Authentication { segment: index })
    }

    /// Like [`decrypt_in_place`](Self::decrypt_in_place), into a new buffer.
    pub fn decrypt(&self, index: u64, is_last: bool, ciphertext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut buffer = ciphertext.to_vec();
        let len = self.decrypt_in_place(index, is_last, &mut buffer)?.len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

#[cfg(test)]
#[path = "cipher_tests.rs"]
mod tests;
