//! A digest taken on a thread of its own while the bytes it covers stream on.
//!
//! An upload used to hash SHA-256 (the API's content signature), hash SHA-1 (the document's
//! `hash`) and seal, one after the other, on the one async worker that also parses the
//! multipart body: perf on a 1 GiB upload put 30 % of the server's samples in the two hashes
//! on that thread (~0.95 ms per MiB, a ceiling of ~1 GB/s before parsing and sealing). Each
//! hash now runs on the blocking pool, fed the same reference-counted chunks (no copy), so the
//! two hashes and the sealing use both cores.
//!
//! Memory stays bounded: a chunk handed over holds [`IN_FLIGHT_BYTES`] permits' worth of
//! budget until the thread has hashed it, so [`OffThreadDigest::feed`] waits (back-pressure on
//! the body) once that much is queued. Dropping the digest mid-stream (an abandoned upload)
//! closes the channel: the thread drains what is queued and ends, and its result is dropped.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::error::VaultError;

/// Plaintext bytes queued for one digest thread at most: 1 MiB, 16 of the 64 KiB segments,
/// four batches of [`BATCH_BYTES`], enough to ride out scheduling jitter between the threads.
pub const IN_FLIGHT_BYTES: usize = 1024 * 1024;

/// What a digest thread computes: a running state and its final value.
pub trait StreamDigest: Send + 'static {
    type Output: Send + 'static;
    fn update(&mut self, bytes: &[u8]);
    fn finish(self) -> Self::Output;
}

impl StreamDigest for sha1::Sha1 {
    type Output = String;
    fn update(&mut self, bytes: &[u8]) {
        sha1::Digest::update(self, bytes);
    }
    fn finish(self) -> String {
        shared::hex::hex(&sha1::Digest::finalize(self))
    }
}

impl StreamDigest for shared::hex::Sha256 {
    type Output = String;
    fn update(&mut self, bytes: &[u8]) {
        shared::hex::Sha256::update(self, bytes);
    }
    fn finish(self) -> String {
        self.finish_hex()
    }
}

/// Chunks handed over together: one wake-up of the thread per 256 KiB rather than per
/// multipart chunk (a 64 KiB chunk each cost ~0.2 ms per MiB of wake-ups, measured with
/// `examples/seal_ceiling.rs`).
pub const BATCH_BYTES: usize = 256 * 1024;

type Queued = Vec<(Bytes, Option<OwnedSemaphorePermit>)>;

/// Chunks fed but not yet handed over, with their share of the budget.
#[derive(Default)]
struct Pending {
    chunks: Queued,
    bytes: usize,
}

/// A digest computed on the blocking pool from the chunks [`feed`](Self::feed) hands it, in
/// order. Must be created inside a Tokio runtime.
pub struct OffThreadDigest<T> {
    sender: Option<UnboundedSender<Queued>>,
    pending: Mutex<Pending>,
    budget: Arc<Semaphore>,
    thread: JoinHandle<T>,
}

impl<T: Send + 'static> OffThreadDigest<T> {
    /// Starts the thread with `digest`'s initial state.
    pub fn spawn<D: StreamDigest<Output = T>>(mut digest: D) -> Self {
        let (sender, mut receiver) = unbounded_channel::<Queued>();
        let thread = tokio::task::spawn_blocking(move || {
            while let Some(batch) = receiver.blocking_recv() {
                for (chunk, permit) in batch {
                    digest.update(&chunk);
                    drop(permit);
                }
            }
            digest.finish()
        });
        Self {
            sender: Some(sender),
            pending: Mutex::default(),
            budget: Arc::new(Semaphore::new(IN_FLIGHT_BYTES)),
            thread,
        }
    }

    /// Queues `chunk` (a reference, not a copy), first waiting until the queue is under budget.
    /// Never fails: should the thread have died (a panic), [`finish`](Self::finish) says so.
    pub async fn feed(&self, chunk: &Bytes) {
        // Unsent chunks hold less than a batch of the budget, so the rest is always there to
        // be had; a larger chunk takes all of that rest (it is already in memory).
        let cost = chunk.len().clamp(1, IN_FLIGHT_BYTES - BATCH_BYTES);
        let permits = u32::try_from(cost).unwrap_or(u32::MAX);
        // The semaphore is never closed, so this always yields a permit.
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(permits)
            .await
            .ok();
        // Pushed and sent under the lock: chunks reach the thread in the order they were fed.
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.chunks.push((chunk.clone(), permit));
        pending.bytes += chunk.len();
        if pending.bytes >= BATCH_BYTES {
            self.send(&mut pending);
        }
    }

    fn send(&self, pending: &mut Pending) {
        let batch = std::mem::take(pending).chunks;
        if let Some(sender) = &self.sender
            && !batch.is_empty()
        {
            let _ = sender.send(batch);
        }
    }

    /// The digest of everything fed, once the thread has hashed it all.
    pub async fn finish(mut self) -> Result<T, VaultError> {
        let mut pending = std::mem::take(
            self.pending
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.send(&mut pending);
        self.sender = None;
        (&mut self.thread).await.map_err(|_| VaultError::Task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn equals_the_digest_of_the_whole() {
        let data: Vec<u8> = (0..3 * IN_FLIGHT_BYTES + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        let bytes = Bytes::from(data.clone());
        let sha1 = OffThreadDigest::spawn(sha1::Sha1::default());
        let sha256 = OffThreadDigest::spawn(shared::hex::Sha256::new());
        let mut start = 0;
        for size in [0, 1, 65_536, 2 * IN_FLIGHT_BYTES + 3].into_iter().cycle() {
            let end = (start + size).min(data.len());
            let chunk = bytes.slice(start..end);
            sha1.feed(&chunk).await;
            sha256.feed(&chunk).await;
            start = end;
            if start == data.len() {
                break;
            }
        }
        let expected1 = shared::hex::hex(&<sha1::Sha1 as sha1::Digest>::digest(&data));
        assert_eq!(sha1.finish().await.unwrap(), expected1);
        assert_eq!(
            sha256.finish().await.unwrap(),
            shared::hex::sha256_hex(&data)
        );
    }
}
