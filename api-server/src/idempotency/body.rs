//! The request body as it streams to the handler, fingerprinted on the way
//! ([`super::fingerprint`], on the blocking pool), so a request can be recognised when it is
//! sent again without holding a document in memory.
//!
//! The handler may stop reading before the end (a multipart parser stops at the closing
//! boundary); the rest is read and hashed afterwards ([`HashedBody::finish`]), so the
//! fingerprint never depends on how far a parser read.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use actix_web::HttpRequest;
use actix_web::error::PayloadError;
use actix_web::web::Payload;
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::stream::LocalBoxStream;
use vault::cipher::OffThreadDigest;

/// The body handed to a handler: a stream of chunks, as `Multipart::new` takes it.
pub type Body = LocalBoxStream<'static, Result<Bytes, PayloadError>>;

struct Tap {
    /// Taken while a chunk is awaited (one reader at a time), `None` once the body ended, broke
    /// or was abandoned mid-read.
    payload: RefCell<Option<Payload>>,
    ended: Cell<bool>,
    read: Cell<u64>,
    digest: RefCell<Option<Rc<OffThreadDigest<String>>>>,
}

/// A body being hashed as it is read.
pub struct HashedBody(Rc<Tap>);

impl HashedBody {
    pub fn new(request: &HttpRequest, payload: Payload) -> Self {
        let digest = OffThreadDigest::spawn(super::fingerprint::Fingerprint::of(request));
        Self(Rc::new(Tap {
            payload: RefCell::new(Some(payload)),
            ended: Cell::new(false),
            read: Cell::new(0),
            digest: RefCell::new(Some(Rc::new(digest))),
        }))
    }

    /// The body for the handler (one reader: call once).
    pub fn stream(&self) -> Body {
        futures_util::stream::unfold(Rc::clone(&self.0), |tap| async move {
            let item = next(&tap).await?;
            Some((item, tap))
        })
        // A multipart parser may poll again after the end: answer the end again.
        .fuse()
        .boxed_local()
    }

    /// Reads what is left of the body (at most `limit` more bytes), then the whole body's
    /// fingerprint; `None` when it broke, was abandoned mid-read, or exceeds the limit.
    pub async fn finish(self, limit: u64) -> Option<String> {
        let start = self.0.read.get();
        while !self.0.ended.get() {
            match next(&self.0).await {
                Some(Ok(_)) if self.0.read.get() - start <= limit => {}
                // The end: the loop ends.
                None if self.0.ended.get() => {}
                _ => return None,
            }
        }
        let digest = self.0.digest.borrow_mut().take()?;
        let digest = Rc::try_unwrap(digest).ok()?;
        digest.finish().await.ok()
    }
}

/// The next chunk, fed to the digest before it is handed on.
async fn next(tap: &Tap) -> Option<Result<Bytes, PayloadError>> {
    let mut payload = tap.payload.borrow_mut().take()?;
    let item = payload.next().await;
    match &item {
        Some(Ok(chunk)) => {
            *tap.payload.borrow_mut() = Some(payload);
            tap.read.set(tap.read.get() + chunk.len() as u64);
            let digest = tap.digest.borrow().clone();
            if let Some(digest) = digest {
                digest.feed(chunk).await;
            }
        }
        Some(Err(_)) => {}
        None => tap.ended.set(true),
    }
    item
}
