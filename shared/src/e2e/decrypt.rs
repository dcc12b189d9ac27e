//! The streaming reader: releases a segment's plaintext only once its tag verified.
//!
//! A segment is known not to be the last when more bytes follow it. The final one is recognised
//! by authenticating with the last flag set: after each [`push`](Decryptor::push) the pending
//! tail (at most one segment) is tried as the last segment, so its plaintext is released as soon
//! as it verifies and [`finish`](Decryptor::finish) only has to check that it did. The cost is
//! one extra AES-GCM pass over the pending tail per call (pass chunks of a few KiB or more, as a
//! network read gives them; ~0.1 s per GiB with 8 KiB chunks here).

use ring::aead::{Aad, LessSafeKey};

use super::header::{HEADER_LEN, Header};
use super::{E2eError, KeySource, Metadata, STRIDE, TAG_LEN};

/// The header, its bytes (every segment's associated data) and the derived segment key.
struct Opened {
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    key: LessSafeKey,
}

/// Opens a file fed in pieces of any size.
pub struct Decryptor {
    source: KeySource,
    opened: Option<Opened>,
    /// Bytes received and not yet consumed: the header, then at most one segment plus a chunk.
    pending: Vec<u8>,
    scratch: Vec<u8>,
    next_index: u32,
    metadata: Option<Metadata>,
    done: bool,
    failed: bool,
}

impl Decryptor {
    pub fn new(source: &KeySource) -> Self {
        Self {
            source: source.duplicate(),
            opened: None,
            pending: Vec::new(),
            scratch: Vec::new(),
            next_index: 0,
            metadata: None,
            done: false,
            failed: false,
        }
    }

    /// The name and media type, once the first segment verified.
    pub fn metadata(&self) -> Option<&Metadata> {
        self.metadata.as_ref()
    }

    /// Appends to `out` the plaintext of every segment that verified. With a passphrase, the
    /// call that completes the header runs PBKDF2 (a fraction of a second).
    pub fn push(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<(), E2eError> {
        if self.failed {
            return Err(E2eError::WrongKeyOrCorrupt);
        }
        if self.done {
            return match ciphertext.is_empty() {
                true => Ok(()),
                false => Err(E2eError::TrailingData),
            };
        }
        self.pending.extend_from_slice(ciphertext);
        if self.opened.is_none() && !self.open_header()? {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending);
        let result = self.consume(&mut pending, out);
        self.pending = pending;
        result
    }

    /// Checks that the file ended with its last segment, and returns its metadata.
    pub fn finish(mut self) -> Result<Metadata, E2eError> {
        if self.failed {
            return Err(E2eError::WrongKeyOrCorrupt);
        }
        if let (true, Some(metadata)) = (self.done, self.metadata.take()) {
            return Ok(metadata);
        }
        if self.opened.is_none() || self.pending.len() <= TAG_LEN {
            return Err(E2eError::Truncated);
        }
        // The file stops after a whole segment that is not flagged last: cut at a boundary.
        let mut pending = std::mem::take(&mut self.pending);
        if pending.len() == STRIDE && self.open(&mut pending, false).is_ok() {
            return Err(E2eError::Truncated);
        }
        Err(E2eError::WrongKeyOrCorrupt)
    }

    /// Parses the header once it is complete and derives the segment key. `Ok(false)`: not yet.
    fn open_header(&mut self) -> Result<bool, E2eError> {
        let Some(bytes) = self.pending.first_chunk::<HEADER_LEN>() else {
            return Ok(false);
        };
        let header_bytes = *bytes;
        let header = Header::parse(&header_bytes)?;
        let key = self.source.segment_key(&header)?;
        self.opened = Some(Opened {
            header,
            header_bytes,
            key,
        });
        self.pending.drain(..HEADER_LEN);
        Ok(true)
    }

    /// Opens every segment that more bytes follow, then tries the rest as the last segment.
    fn consume(&mut self, pending: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), E2eError> {
        let mut start = 0;
        let mut result = Ok(());
        while pending.len() - start > STRIDE {
            let segment = &mut pending[start..start + STRIDE];
            // Kept for the diagnosis below: opening in place overwrites the ciphertext.
            self.scratch.clear();
            self.scratch.extend_from_slice(segment);
            if let Err(error) = self.open_into(segment, false, out) {
                result = Err(self.diagnose(error));
                break;
            }
            start += STRIDE;
        }
        pending.drain(..start);
        result?;
        if pending.len() > TAG_LEN {
            self.scratch.clear();
            self.scratch.extend_from_slice(pending);
            let mut trial = std::mem::take(&mut self.scratch);
            match self.open_into(&mut trial, true, out) {
                Ok(()) => {
                    pending.clear();
                    self.done = true;
                }
                // Not (yet) a complete last segment: wait for more bytes or `finish`.
                Err(E2eError::WrongKeyOrCorrupt) => {}
                Err(other) => {
                    self.failed = true;
                    return Err(other);
                }
            }
            self.scratch = trial;
        }
        Ok(())
    }

    /// Why a segment that more bytes follow failed: it may be a last segment with trailing bytes
    /// (the copy of its ciphertext is in `scratch`). Either way the reader is finished.
    fn diagnose(&mut self, error: E2eError) -> E2eError {
        self.failed = true;
        let mut copy = std::mem::take(&mut self.scratch);
        let trailing =
            matches!(error, E2eError::WrongKeyOrCorrupt) && self.open(&mut copy, true).is_ok();
        self.scratch = copy;
        if trailing {
            E2eError::TrailingData
        } else {
            error
        }
    }

    /// Verifies and decrypts the next segment into `out` (after the metadata, for the first).
    fn open_into(
        &mut self,
        segment: &mut [u8],
        is_last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), E2eError> {
        let plaintext = self.open(segment, is_last)?;
        let skip = if self.next_index == 0 {
            let (metadata, used) = Metadata::decode(plaintext)?;
            self.metadata = Some(metadata);
            used
        } else {
            0
        };
        out.extend_from_slice(&plaintext[skip..]);
        self.next_index = match (self.next_index.checked_add(1), is_last) {
            (Some(next), _) => next,
            (None, true) => self.next_index,
            (None, false) => return Err(E2eError::TooLong),
        };
        Ok(())
    }

    /// Authenticates segment `next_index` in place; nothing else changes.
    fn open<'a>(&self, segment: &'a mut [u8], is_last: bool) -> Result<&'a mut [u8], E2eError> {
        let opened = self.opened.as_ref().ok_or(E2eError::Truncated)?;
        if segment.len() <= TAG_LEN || segment.len() > STRIDE {
            return Err(E2eError::WrongKeyOrCorrupt);
        }
        opened
            .key
            .open_in_place(
                opened.header.nonce(self.next_index, is_last),
                Aad::from(&opened.header_bytes),
                segment,
            )
            .map_err(|_| E2eError::WrongKeyOrCorrupt)
    }
}
