//! The rest of a download from a remote store (S3) in one streamed request.
//!
//! On the local disk each batch of segments is its own `get_range` (whole aligned reads go at
//! disk speed; `object_store`'s byte stream of a file does not). On a remote store each request
//! costs a round trip, and some servers read the whole object to answer any range (moto takes
//! ~110 ms per ranged GET of a 256 MiB object, whatever the range's length: 1 MiB batches
//! crawled at ~10 MB/s). So after the first batch (read before the answer's status, as on
//! disk) the remaining ciphertext is one ranged GET, cut into the same batches as its body
//! arrives: each is then decrypted and checked exactly as a fetched one, and memory stays at a
//! couple of batches whatever the object's size.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::{GetOptions, ObjectStore as _};

use super::read::{Batch, Segments, not_found_is_integrity};
use crate::cipher::CipherError;
use crate::error::VaultError;

/// The batches `plan` has left, each with its ciphertext already read from one streamed GET.
/// The request is sent when the first of them is wanted; a body that ends early (the object
/// changed or was cut) is an integrity error, and nothing comes after an error.
pub(super) fn streamed(plan: Segments) -> BoxStream<'static, Result<Batch, VaultError>> {
    let range = match plan.remaining() {
        Ok(Some(range)) => range,
        Ok(None) => return stream::empty().boxed(),
        Err(error) => return stream::once(async { Err(error) }).boxed(),
    };
    let (store, location) = (plan.store.clone(), plan.location.clone());
    let body = stream::once(async move {
        let options = GetOptions::new().with_range(Some(range));
        let result = (store.get_opts(&location, options).await).map_err(not_found_is_integrity)?;
        Ok::<_, VaultError>(result.into_stream().map_err(VaultError::Store))
    })
    .try_flatten()
    .boxed();
    let state = Cut {
        body,
        leftover: Bytes::new(),
        plan,
        failed: false,
    };
    stream::unfold(state, |mut cut| async move {
        if cut.failed {
            return None;
        }
        let next = cut.next().await.transpose()?;
        cut.failed = next.is_err();
        Some((next, cut))
    })
    .boxed()
}

/// The streamed body and the plan it is cut along.
struct Cut {
    body: BoxStream<'static, Result<Bytes, VaultError>>,
    /// The part of the last chunk received that belongs to the next batch.
    leftover: Bytes,
    plan: Segments,
    failed: bool,
}

impl Cut {
    /// The next planned batch with its ciphertext, once the body has brought all of it.
    async fn next(&mut self) -> Result<Option<Batch>, VaultError> {
        let Some(mut batch) = self.plan.plan()? else {
            return Ok(None);
        };
        let wanted = usize::try_from(batch.range.end - batch.range.start).unwrap_or(usize::MAX);
        // A buffer of the batch's own, so the decryption can work in place (uniquely owned).
        let mut ciphertext = BytesMut::with_capacity(wanted);
        loop {
            let take = (wanted - ciphertext.len()).min(self.leftover.len());
            ciphertext.extend_from_slice(&self.leftover.split_to(take));
            if ciphertext.len() == wanted {
                break;
            }
            match self.body.next().await {
                Some(chunk) => self.leftover = chunk?,
                None => {
                    return Err(VaultError::Integrity(CipherError::Length {
                        expected: batch.range.end,
                        actual: batch.range.start + ciphertext.len() as u64,
                    }));
                }
            }
        }
        batch.fetched = Some(ciphertext.freeze());
        Ok(Some(batch))
    }
}
