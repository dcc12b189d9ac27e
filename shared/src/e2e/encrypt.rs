//! The streaming writer: constant memory (one segment held back), any chunk sizes.

use ring::aead::{Aad, LessSafeKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::header::{HEADER_LEN, Header, PREFIX_LEN, SALT_LEN};
use super::{E2eError, KeySource, Metadata, PBKDF2_ITERATIONS, SEGMENT_SIZE};

const SEGMENT: usize = SEGMENT_SIZE as usize;

/// The random values of one file. Fresh ones come from [`Params::random`]; fixed ones exist for
/// test vectors only: reusing a salt and nonce prefix with the same key or passphrase reuses
/// GCM nonces, which reveals plaintext.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub salt: [u8; SALT_LEN],
    pub nonce_prefix: [u8; PREFIX_LEN],
    /// PBKDF2 iterations (passphrase files only; ignored for a key).
    pub iterations: u32,
}

impl Params {
    pub fn random() -> Result<Self, E2eError> {
        let rng = SystemRandom::new();
        let mut params = Self {
            salt: [0; SALT_LEN],
            nonce_prefix: [0; PREFIX_LEN],
            iterations: PBKDF2_ITERATIONS,
        };
        rng.fill(&mut params.salt).map_err(|_| E2eError::Random)?;
        rng.fill(&mut params.nonce_prefix)
            .map_err(|_| E2eError::Random)?;
        Ok(params)
    }
}

/// Seals a plaintext fed in pieces of any size. The last segment must carry the last flag, so a
/// full segment is held back until more data (or [`finish`](Self::finish)) shows whether it is
/// the last.
pub struct Encryptor {
    key: LessSafeKey,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    held: Vec<u8>,
    next_index: u32,
}

impl Encryptor {
    /// Starts a file with fresh random values; returns the writer and the header bytes, which
    /// come first in the file. With a passphrase this runs PBKDF2 (a fraction of a second).
    pub fn new(
        source: &KeySource,
        name: &str,
        media_type: &str,
    ) -> Result<(Self, Vec<u8>), E2eError> {
        Self::with_params(source, name, media_type, Params::random()?)
    }

    /// Like [`new`](Self::new) with given random values (test vectors; see [`Params`]).
    pub fn with_params(
        source: &KeySource,
        name: &str,
        media_type: &str,
        params: Params,
    ) -> Result<(Self, Vec<u8>), E2eError> {
        let metadata = Metadata::new(name, media_type)?;
        let header = Header {
            kind: source.kind(params.iterations),
            salt: params.salt,
            nonce_prefix: params.nonce_prefix,
        };
        let header_bytes = header.to_bytes();
        // A forged iteration count must not pass, and a writer must not produce an unreadable file.
        Header::parse(&header_bytes)?;
        let mut held = Vec::with_capacity(SEGMENT);
        held.extend_from_slice(&metadata.encode());
        let encryptor = Self {
            key: source.segment_key(&header)?,
            header,
            header_bytes,
            held,
            next_index: 0,
        };
        Ok((encryptor, header_bytes.to_vec()))
    }

    /// Appends to `out` every whole segment known not to be the last.
    pub fn push(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), E2eError> {
        while !plaintext.is_empty() {
            if self.held.len() == SEGMENT {
                // More plaintext follows, so the held segment is not the last one.
                let held = std::mem::take(&mut self.held);
                self.seal(&held, false, out)?;
                self.held = held;
                self.held.clear();
            }
            if self.held.is_empty() && plaintext.len() > SEGMENT {
                // A whole segment with more after it: seal it straight from the input.
                let (segment, rest) = plaintext.split_at(SEGMENT);
                self.seal(segment, false, out)?;
                plaintext = rest;
                continue;
            }
            let take = (SEGMENT - self.held.len()).min(plaintext.len());
            self.held.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
        }
        Ok(())
    }

    /// Appends the last segment (there always is one: the metadata is in the plaintext).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), E2eError> {
        let held = std::mem::take(&mut self.held);
        self.seal(&held, true, out)
    }

    fn seal(&mut self, plaintext: &[u8], is_last: bool, out: &mut Vec<u8>) -> Result<(), E2eError> {
        // Segment 2^32 - 1 may only be the last: its successor's index does not exist.
        if !is_last && self.next_index == u32::MAX {
            return Err(E2eError::TooLong);
        }
        let start = out.len();
        out.extend_from_slice(plaintext);
        let sealed = self.key.seal_in_place_separate_tag(
            self.header.nonce(self.next_index, is_last),
            Aad::from(&self.header_bytes),
            &mut out[start..],
        );
        match sealed {
            Ok(tag) => out.extend_from_slice(tag.as_ref()),
            Err(_) => {
                out.truncate(start);
                return Err(E2eError::Seal);
            }
        }
        self.next_index = self.next_index.saturating_add(1);
        Ok(())
    }
}
