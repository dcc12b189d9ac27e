//! `sealpost-e2e-v1`: the format of top-secret documents, encrypted by the producer and
//! decrypted only by the recipient (the CLI's `upload --top-secret` and `get`, and the
//! gateway's browser script `gateway/assets/sealpost-e2e-v1.js`, which implements the same
//! bytes with WebCrypto). The server only ever stores these bytes (re-encrypted at rest like any
//! other object); it never sees the key, the passphrase or the plaintext.
//!
//! # Layout
//! - [`header`]: the 48-byte header and its parsing rules.
//! - [`key`]: the random key ([`E2eKey`], carried in a link's `#k=…` fragment), passphrases,
//!   and the derivation of the segment key.
//! - [`encrypt`]: the streaming [`Encryptor`].
//! - [`decrypt`]: the streaming [`Decryptor`].
//!
//! # Format (all integers big-endian)
//! A file is a header followed by one or more segments.
//!
//! | offset | length | field |
//! | --- | --- | --- |
//! | 0 | 12 | magic, the ASCII bytes `sealpost-e2e` |
//! | 12 | 1 | version, `1` |
//! | 13 | 1 | key kind: `1` = random key, `2` = passphrase |
//! | 14 | 2 | reserved, zero |
//! | 16 | 4 | segment size `S` (u32): plaintext bytes per segment, exactly 65536 in v1 |
//! | 20 | 4 | PBKDF2 iterations (u32): `0` for kind 1; 600,000 ..= 10,000,000 for kind 2 (writers use 600,000) |
//! | 24 | 16 | salt, random |
//! | 40 | 7 | nonce prefix, random |
//! | 47 | 1 | reserved, zero |
//!
//! A reader refuses any other value in any of these fields (so a parsed header re-encodes to the
//! same 48 bytes).
//!
//! **Segment key** `K` (32 bytes, AES-256):
//! - kind 1: HKDF-SHA256 (RFC 5869) with salt = the header's salt, IKM = the 32-byte random key,
//!   info = the ASCII bytes `sealpost-e2e-v1`, length 32. A per-file key, so a producer who
//!   reuses one key for several files never reuses a (key, nonce) pair.
//! - kind 2: PBKDF2-HMAC-SHA256 (RFC 8018) with password = the passphrase's UTF-8 bytes (as
//!   typed, no normalisation), salt = the header's salt, the header's iteration count, length 32.
//!   PBKDF2 because WebCrypto has no Argon2 or scrypt.
//!
//! **Plaintext stream** `P` = `u16 n ‖ name (n bytes) ‖ u16 t ‖ media type (t bytes) ‖ content`.
//! The name is 1 ..= 1024 bytes of UTF-8 with no control character (U+0000..U+001F, U+007F),
//! no `/` or `\`, and is not `.` or `..`; the media type is 1 ..= 255 bytes of printable ASCII
//! (0x20..=0x7E). Both are checked by writers and readers alike.
//!
//! **Segments.** `P` is cut into segments of `S` bytes; every segment but the last holds exactly
//! `S` bytes, and the last holds 1 ..= `S` (so the name and media type are inside the first
//! segment, and an empty file is one segment holding only them). Segment `i` (from 0) is stored
//! as `AES-256-GCM(K, nonce_i, aad = the 48 header bytes, plaintext_i) ‖ tag (16 bytes)`, where
//! `nonce_i = nonce prefix (7) ‖ i (u32) ‖ last (1 byte: 1 for the final segment, else 0)`.
//! A full segment is therefore `S + 16` stored bytes and a file holds at most 2^32 segments.
//!
//! This is the STREAM construction of the at-rest format (`vault::cipher`), with a random nonce
//! prefix: the position in the nonce makes a moved, swapped or duplicated segment fail; the
//! last flag makes a truncated (at a segment boundary) or extended file fail; the header as
//! associated data makes every header byte tamper-evident.
//!
//! **Reading.** A reader never releases a segment's plaintext before its tag verified. It knows
//! a segment is not the last when more bytes follow it; the final segment is the one that
//! authenticates with the last flag set, and any byte after it is an error. A file whose bytes
//! end without a segment flagged last is truncated, whatever its segments hold.
//!
//! Test vectors are in `e2e/tests.rs` (`VECTOR_*`).

pub mod decrypt;
pub mod encrypt;
pub mod header;
pub mod key;
#[cfg(test)]
mod tests;

pub use decrypt::Decryptor;
pub use encrypt::{Encryptor, Params};
pub use header::{HEADER_LEN, Header, KeyKind};
pub use key::{E2eKey, KeySource};

/// The media type a top-secret document is uploaded with.
pub const MEDIA_TYPE: &str = "application/vnd.sealpost.e2e";
/// Plaintext bytes per segment (the only value v1 allows).
pub const SEGMENT_SIZE: u32 = 64 * 1024;
/// Length of the GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;
/// Stored bytes of a full segment.
pub const STRIDE: usize = SEGMENT_SIZE as usize + TAG_LEN;
/// PBKDF2 iterations writers use (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Fewest iterations a reader accepts.
pub const MIN_PBKDF2_ITERATIONS: u32 = 600_000;
/// Most iterations a reader accepts: the header is attacker-controlled, so this bounds the work
/// a forged file can make a reader do.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Longest name, in UTF-8 bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest media type, in bytes.
pub const MAX_MEDIA_TYPE_LEN: usize = 255;

/// The original name and media type, carried encrypted in the first segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub name: String,
    pub media_type: String,
}

/// Why a file could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error("not a sealpost-e2e-v1 file (bad header)")]
    BadHeader,
    #[error("this file was sealed with a passphrase; give the passphrase, not a key")]
    NeedsPassphrase,
    #[error("this file was sealed with a key; give the key (the link's #k=… fragment)")]
    NeedsKey,
    #[error("wrong key or passphrase, or the file was modified or cut short")]
    WrongKeyOrCorrupt,
    #[error("the file is truncated (it ends before its last segment)")]
    Truncated,
    #[error("the file has bytes after its last segment")]
    TrailingData,
    #[error("invalid {field}: {reason}")]
    BadMetadata {
        field: &'static str,
        reason: &'static str,
    },
    #[error("invalid key: expected `k=` followed by 43 base64url characters (32 bytes)")]
    BadKey,
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("the file is too large for sealpost-e2e-v1 (2^32 segments)")]
    TooLong,
    #[error("the operating system's random generator failed")]
    Random,
    #[error("encryption failed")]
    Seal,
}

impl Metadata {
    /// Checks both fields against the format's rules.
    pub fn new(name: &str, media_type: &str) -> Result<Self, E2eError> {
        check_name(name)?;
        check_media_type(media_type)?;
        Ok(Self {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
        })
    }

    /// `u16 n ‖ name ‖ u16 t ‖ media type`: the start of the plaintext stream.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.name.len() + self.media_type.len());
        for field in [&self.name, &self.media_type] {
            // Both lengths are bounded far below u16::MAX by `new`.
            let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// Parses the metadata at the start of the first segment's plaintext; returns it and the
    /// number of bytes it took.
    pub(crate) fn decode(plaintext: &[u8]) -> Result<(Self, usize), E2eError> {
        let bad = |reason| E2eError::BadMetadata {
            field: "metadata",
            reason,
        };
        let (name, rest) = take_field(plaintext).ok_or(bad("does not fit the first segment"))?;
        let (media_type, _) = take_field(rest).ok_or(bad("does not fit the first segment"))?;
        let used = 4 + name.len() + media_type.len();
        let name = std::str::from_utf8(name).map_err(|_| E2eError::BadMetadata {
            field: "name",
            reason: "not UTF-8",
        })?;
        let media_type = std::str::from_utf8(media_type).map_err(|_| E2eError::BadMetadata {
            field: "media type",
            reason: "not ASCII",
        })?;
        Ok((Self::new(name, media_type)?, used))
    }
}

fn take_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn check_name(name: &str) -> Result<(), E2eError> {
    let bad = |reason| {
        Err(E2eError::BadMetadata {
            field: "name",
            reason,
        })
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad("must be 1 to 1024 bytes");
    }
    if name
        .chars()
        .any(|c| c.is_ascii_control() || c == '/' || c == '\\')
    {
        return bad("must not hold control characters, `/` or `\\`");
    }
    if name == "." || name == ".." {
        return bad("must not be `.` or `..`");
    }
    Ok(())
}

fn check_media_type(media_type: &str) -> Result<(), E2eError> {
    let printable = media_type.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if media_type.is_empty() || media_type.len() > MAX_MEDIA_TYPE_LEN || !printable {
        return Err(E2eError::BadMetadata {
            field: "media type",
            reason: "must be 1 to 255 printable ASCII characters",
        });
    }
    Ok(())
}
