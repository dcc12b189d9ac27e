//! How large a download's later batches are: large while few downloads run, smaller as more do,
//! so that the batch buffers of all downloads together stay near [`BUDGET`].
//!
//! Measured in issue 4: 32 concurrent downloads with 1 MiB batches (each holding up to three:
//! two in flight and one being sent) peaked at 130 MiB RSS. A single download goes faster with
//! larger batches (fewer hand-offs and wake-ups per MiB, issue 20), which that many downloads
//! could not afford. The size is chosen when each batch is planned; a download's own buffers
//! are bounded whatever the others do (at most three batches of [`MAX_BATCH`]).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of later batch buffers all downloads may hold at once, when each holds its most. 32
/// concurrent downloads of 256 MiB peaked at 89–90 MiB RSS with 16 MiB (128–133 MiB before,
/// with fixed 1 MiB batches; 131 MiB with a 48 MiB budget), at the same aggregate pace; one
/// download still gets [`MAX_BATCH`] up to three running.
const BUDGET: u64 = 16 * 1024 * 1024;
/// The largest later batch. Server CPU per MiB of a single download: ~0.67 ms with 1 MiB
/// batches, ~0.50 ms with 4 MiB (fewer hand-offs and wake-ups per MiB).
const MAX_BATCH: u64 = 4 * 1024 * 1024;
/// Batches one download can hold at once: those in flight and the one being sent.
const HELD: u64 = super::PREFETCH as u64 + 1;

/// Downloads running now, over the whole process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts its download among those running for as long as it lives.
pub(super) struct Active(());

impl Active {
    pub(super) fn new() -> Self {
        RUNNING.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Segments of `stride` ciphertext bytes in the next later batch: the download's share of
/// [`BUDGET`], at most [`MAX_BATCH`], at least one segment. `_active` is the caller's own
/// count, so it is always among the running.
pub(super) fn later_batch(stride: u64, _active: &Active) -> u64 {
    let running = RUNNING.load(Ordering::Relaxed).max(1) as u64;
    let share = (BUDGET / (running * HELD)).min(MAX_BATCH);
    (share / stride.max(1)).max(1)
}
