//! The framing of an internal upload body, so the caller can abandon an upload and still hear
//! the vault's answer.
//!
//! Why not send the raw bytes: when the caller's own source fails (its client disconnects, a
//! part after the document is invalid, the document is over the limit), the only way to stop a
//! raw body is to break the connection, and then the caller cannot learn when the vault has
//! cleaned up. It would answer its client while the object still exists. With frames it
//! sends [`ABORT`], the vault deletes the object's row and blob and only then answers, exactly
//! as an in-process [`crate::Vault::put`] returns only once nothing is left. A body that ends
//! without [`END`] (a crash, a cut connection) is refused the same way, so a truncated upload
//! can never be stored as complete.
//!
//! Format: a sequence of frames, each a 4-byte big-endian length then that many content bytes.
//! Length 0 is [`END`] (the upload is complete; nothing may follow); `0xFFFF_FFFF` is [`ABORT`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes};
use futures_util::Stream;

/// `Content-Type` of a framed upload body.
pub const MEDIA_TYPE: &str = "application/vnd.sealpost.frames";
/// The last frame of a complete upload.
pub const END: [u8; 4] = [0; 4];
/// The caller abandons the upload: store nothing.
pub const ABORT: [u8; 4] = [0xff; 4];
/// Longest content frame the encoder writes (any length below `0xFFFF_FFFF` is accepted).
pub const MAX_FRAME: usize = 1 << 20;

/// The header of a content frame of `len` bytes (`0 < len <= MAX_FRAME`).
pub fn header(len: usize) -> Bytes {
    debug_assert!(
        len > 0 && len <= MAX_FRAME,
        "callers split and skip empty chunks"
    );
    let len = u32::try_from(len.min(MAX_FRAME)).unwrap_or(u32::MAX - 1);
    Bytes::copy_from_slice(&len.to_be_bytes())
}

/// Why a framed body did not yield a complete upload.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the caller abandoned the upload")]
    Aborted,
    #[error("the upload body ended without its end frame")]
    Truncated,
    #[error("the upload body continues after its end frame")]
    TrailingData,
    #[error("reading the upload body failed")]
    Body(#[source] io::Error),
}

/// Decodes a framed body into its content, zero-copy. Ends cleanly only after [`END`] and the
/// end of the body; anything else ends with one error.
pub struct Deframed<S> {
    inner: S,
    buffer: Bytes,
    header: [u8; 4],
    header_len: usize,
    /// Content bytes left in the current frame.
    remaining: usize,
    ended: bool,
    finished: bool,
}

impl<S> Deframed<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            buffer: Bytes::new(),
            header: [0; 4],
            header_len: 0,
            remaining: 0,
            ended: false,
            finished: false,
        }
    }

    fn fail(&mut self, error: FrameError) -> Poll<Option<Result<Bytes, FrameError>>> {
        self.finished = true;
        Poll::Ready(Some(Err(error)))
    }
}

impl<S, E> Stream for Deframed<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<Bytes, FrameError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            if this.buffer.is_empty() {
                match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                    Some(Ok(chunk)) => this.buffer = chunk,
                    Some(Err(error)) => {
                        return this.fail(FrameError::Body(io::Error::other(error)));
                    }
                    None if this.ended => {
                        this.finished = true;
                        return Poll::Ready(None);
                    }
                    None => return this.fail(FrameError::Truncated),
                }
                continue;
            }
            if this.ended {
                return this.fail(FrameError::TrailingData);
            }
            if this.remaining > 0 {
                let take = this.remaining.min(this.buffer.len());
                this.remaining -= take;
                return Poll::Ready(Some(Ok(this.buffer.split_to(take))));
            }
            let take = (4 - this.header_len).min(this.buffer.len());
            this.header[this.header_len..this.header_len + take]
                .copy_from_slice(&this.buffer[..take]);
            this.buffer.advance(take);
            this.header_len += take;
            if this.header_len == 4 {
                this.header_len = 0;
                match this.header {
                    END => this.ended = true,
                    ABORT => return this.fail(FrameError::Aborted),
                    length => {
                        this.remaining =
                            usize::try_from(u32::from_be_bytes(length)).unwrap_or(usize::MAX);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt as _, stream};

    use super::*;

    /// Decodes `body` split into `pieces` of at most `step` bytes.
    async fn decode(body: &[u8], step: usize) -> Result<Vec<u8>, FrameError> {
        let chunks: Vec<Result<Bytes, io::Error>> = body
            .chunks(step.max(1))
            .map(|piece| Ok(Bytes::copy_from_slice(piece)))
            .collect();
        let mut deframed = Deframed::new(stream::iter(chunks));
        let mut out = Vec::new();
        while let Some(item) = deframed.next().await {
            out.extend_from_slice(&item?);
        }
        Ok(out)
    }

    fn encode(pieces: &[&[u8]], last: [u8; 4]) -> Vec<u8> {
        let mut body = Vec::new();
        for piece in pieces {
            body.extend_from_slice(&header(piece.len()));
            body.extend_from_slice(piece);
        }
        body.extend_from_slice(&last);
        body
    }

    #[tokio::test]
    async fn round_trips_whatever_the_chunking() {
        let body = encode(&[b"hello", b" ", b"framed world"], END);
        for step in [1, 2, 3, 4, 5, 7, 100] {
            assert_eq!(decode(&body, step).await.unwrap(), b"hello framed world");
        }
        assert_eq!(decode(&encode(&[], END), 1).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn abort_truncation_and_trailing_data_fail() {
        for step in [1, 3, 64] {
            let aborted = encode(&[b"some bytes"], ABORT);
            assert!(matches!(
                decode(&aborted, step).await,
                Err(FrameError::Aborted)
            ));
            let mut cut = encode(&[b"some bytes"], END);
            cut.truncate(cut.len() - 4);
            assert!(matches!(
                decode(&cut, step).await,
                Err(FrameError::Truncated)
            ));
            cut.truncate(cut.len() - 3);
            assert!(matches!(
                decode(&cut, step).await,
                Err(FrameError::Truncated)
            ));
            let mut trailing = encode(&[b"x"], END);
            trailing.push(0);
            assert!(matches!(
                decode(&trailing, step).await,
                Err(FrameError::TrailingData)
            ));
        }
        assert!(matches!(decode(b"", 1).await, Err(FrameError::Truncated)));
    }

    #[tokio::test]
    async fn a_body_error_ends_the_stream() {
        let chunks = vec![Ok(header(3)), Err(io::Error::other("connection reset"))];
        let mut deframed = Deframed::new(stream::iter(chunks));
        assert!(matches!(
            deframed.next().await,
            Some(Err(FrameError::Body(_)))
        ));
        assert!(deframed.next().await.is_none());
    }
}
