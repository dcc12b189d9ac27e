//! The 48-byte `sealpost-e2e-v1` header (the table is in the [module doc](super)).

use super::{E2eError, MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS, SEGMENT_SIZE};

/// Length of the header.
pub const HEADER_LEN: usize = 48;
/// First twelve header bytes.
pub const MAGIC: [u8; 12] = *b"sealpost-e2e";
/// Format version (byte 12).
pub const VERSION: u8 = 1;
/// Length of the random salt.
pub const SALT_LEN: usize = 16;
/// Length of the random nonce prefix.
pub const PREFIX_LEN: usize = 7;

/// How the segment key is derived (byte 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// HKDF-SHA256 of a random 32-byte key.
    Key,
    /// PBKDF2-HMAC-SHA256 of a passphrase, with this many iterations.
    Passphrase { iterations: u32 },
}

/// A parsed header. Only headers of exactly the documented shape parse, so
/// [`to_bytes`](Self::to_bytes) gives back the bytes read (the associated data of every segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: KeyKind,
    pub salt: [u8; SALT_LEN],
    pub nonce_prefix: [u8; PREFIX_LEN],
}

impl Header {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let (kind, iterations) = match self.kind {
            KeyKind::Key => (1, 0),
            KeyKind::Passphrase { iterations } => (2, iterations),
        };
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..12].copy_from_slice(&MAGIC);
        bytes[12] = VERSION;
        bytes[13] = kind;
        bytes[16..20].copy_from_slice(&SEGMENT_SIZE.to_be_bytes());
        bytes[20..24].copy_from_slice(&iterations.to_be_bytes());
        bytes[24..40].copy_from_slice(&self.salt);
        bytes[40..47].copy_from_slice(&self.nonce_prefix);
        bytes
    }

    /// Parses a header, refusing any value the format does not allow.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, E2eError> {
        let u32_at = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let fixed_ok = bytes[..12] == MAGIC
            && bytes[12] == VERSION
            && bytes[14..16] == [0, 0]
            && u32_at(16) == SEGMENT_SIZE
            && bytes[47] == 0;
        if !fixed_ok {
            return Err(E2eError::BadHeader);
        }
        let iterations = u32_at(20);
        let kind = match (bytes[13], iterations) {
            (1, 0) => KeyKind::Key,
            (2, n) if (MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&n) => {
                KeyKind::Passphrase { iterations: n }
            }
            _ => return Err(E2eError::BadHeader),
        };
        let mut header = Self {
            kind,
            salt: [0; SALT_LEN],
            nonce_prefix: [0; PREFIX_LEN],
        };
        header.salt.copy_from_slice(&bytes[24..40]);
        header.nonce_prefix.copy_from_slice(&bytes[40..47]);
        Ok(header)
    }

    /// The nonce of segment `index`: prefix ‖ index (u32) ‖ last flag.
    pub(crate) fn nonce(&self, index: u32, is_last: bool) -> ring::aead::Nonce {
        let mut bytes = [0u8; ring::aead::NONCE_LEN];
        bytes[..PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        bytes[PREFIX_LEN..11].copy_from_slice(&index.to_be_bytes());
        bytes[11] = u8::from(is_last);
        ring::aead::Nonce::assume_unique_for_key(bytes)
    }
}
