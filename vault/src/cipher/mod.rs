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

use bytes::BytesMut;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

pub mod digest;
mod header;

pub use digest::{OffThreadDigest, StreamDigest};
pub use header::{Header, SegmentSpan};

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

fn nonce(index: u64, is_last: bool) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[3..11].copy_from_slice(&index.to_be_bytes());
    bytes[11] = u8::from(is_last);
    Nonce::assume_unique_for_key(bytes)
}

fn aead_key(data_key: &[u8; KEY_LEN]) -> Result<LessSafeKey, CipherError> {
    UnboundKey::new(&AES_256_GCM, data_key)
        .map(LessSafeKey::new)
        .map_err(|_| CipherError::Key)
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
        let segment_size = usize::try_from(header.segment_size())
            .map_err(|_| CipherError::SegmentSize(header.segment_size()))?;
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

    fn seal(
        &mut self,
        plaintext: &[u8],
        is_last: bool,
        out: &mut BytesMut,
    ) -> Result<(), CipherError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(self.next_index, is_last),
                Aad::from(&self.header),
                &mut out[start..],
            )
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
        Ok(Self {
            key: aead_key(data_key)?,
            header,
            header_bytes: header.to_bytes(),
        })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    /// Authenticates and decrypts segment `index` (ciphertext and tag) in place, returning the
    /// plaintext prefix of `segment`. `is_last` must say whether it is the object's final segment.
    pub fn decrypt_in_place<'a>(
        &self,
        index: u64,
        is_last: bool,
        segment: &'a mut [u8],
    ) -> Result<&'a mut [u8], CipherError> {
        let len = segment.len();
        let full = usize::try_from(self.header.stride()).unwrap_or(usize::MAX);
        if len < TAG_LEN || len > full || (!is_last && len != full) {
            return Err(CipherError::SegmentLength {
                segment: index,
                len,
            });
        }
        self.key
            .open_in_place(
                nonce(index, is_last),
                Aad::from(&self.header_bytes),
                segment,
            )
            .map_err(|_| CipherError::Authentication { segment: index })
    }

    /// Like [`decrypt_in_place`](Self::decrypt_in_place), into a new buffer.
    pub fn decrypt(
        &self,
        index: u64,
        is_last: bool,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CipherError> {
        let mut buffer = ciphertext.to_vec();
        let len = self.decrypt_in_place(index, is_last, &mut buffer)?.len();
        buffer.truncate(len);
        Ok(buffer)
    }
}
#[cfg(test)]
mod tests;
