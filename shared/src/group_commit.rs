//! Group commit: durable writes without one transaction per request.
//!
//! One writer task owns a store. Requests queue their record with [`GroupCommit::write`] and
//! wait; the writer takes everything queued while its previous transaction ran (up to
//! [`BATCH_MAX`] records), appends it in one call, and tells every waiting request whether
//! *its* transaction committed. The cost of a commit is thus shared by the requests that
//! arrived during the previous one, and a request learns the fate of its own record: `true`
//! means committed, `false` means it is not known to be written (the append failed, or the
//! writer is gone), so a fail-closed caller must refuse the request.
//!
//! Users: the fail-closed audit logs of the API and the gateway (DESIGN.md, "Audit logs"), each
//! with its own record type and repository method, and the delivery worker, which finishes its
//! jobs' attempts in batches the same way.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::ops::Metrics;

/// Records per append at most.
pub const BATCH_MAX: usize = 1024;
/// Records waiting for the writer before requests wait to queue theirs.
pub const QUEUE: usize = 16 * 1024;

/// What the writer receives.
enum Message<R> {
    /// A record, and whom to tell whether its transaction committed.
    Record(R, Option<oneshot::Sender<bool>>),
    /// Answered once every record queued before it was appended (or failed): see
    /// [`GroupCommit::flush`].
    Flush(oneshot::Sender<()>),
}

/// The sending side of a group-commit writer; clone it freely. The writer ends when every
/// clone is gone, after writing what was queued.
#[derive(Debug)]
pub struct GroupCommit<R> {
    sender: mpsc::Sender<Message<R>>,
}

impl<R> Clone for GroupCommit<R> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<R: Send + 'static> GroupCommit<R> {
    /// Starts the writer on the current tokio runtime. `append` writes one batch, in order, in
    /// one transaction: `Ok` only once every record of it is durable, `Err` when none is (the
    /// transaction rolled back). `log` names the log in error messages.
    pub fn spawn<F, Fut, E>(log: &'static str, append: F) -> Self
    where
        F: FnMut(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        Self::start(log, None, append)
    }

    /// [`spawn`](Self::spawn), recording each batch's size into `metrics` and, for an audit
    /// log (`audit`), its records as written or failed.
    pub fn spawn_metered<F, Fut, E>(
        log: &'static str,
        metrics: Metrics,
        audit: bool,
        append: F,
    ) -> Self
    where
        F: FnMut(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        Self::start(log, Some((metrics, audit)), append)
    }

    fn start<F, Fut, E>(log: &'static str, meter: Option<(Metrics, bool)>, append: F) -> Self
    where
        F: FnMut(Vec<R>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::error::Error + 'static,
    {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(log, meter, append, receiver));
        Self { sender }
    }

    /// Whether the writer still takes records (the readiness probe's audit check).
    pub fn is_alive(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Queues `record` and waits for the transaction that holds it: `true` once it committed,
    /// `false` when it could not be written.
    pub async fn write(&self, record: R) -> bool {
        let (done, committed) = oneshot::channel();
        let message = Message::Record(record, Some(done));
        if self.sender.send(message).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }

    /// Queues `record` without waiting (for a request that is being dropped and can no longer
    /// wait); `false` when the queue is full or the writer gone. The record is written with the
    /// next batch; a failure is only logged.
    pub fn write_detached(&self, record: R) -> bool {
        self.sender.try_send(Message::Record(record, None)).is_ok()
    }

    /// Returns once every record queued before this call was appended (or its append failed):
    /// a service's shutdown calls it after its server stopped, so the records of requests
    /// dropped mid-way ([`write_detached`](Self::write_detached)) are not lost with the process.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

async fn write_loop<R, F, Fut, E>(
    log: &'static str,
    meter: Option<(Metrics, bool)>,
    mut append: F,
    mut receiver: mpsc::Receiver<Message<R>>,
) where
    F: FnMut(Vec<R>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error,
{
    let mut batch: Vec<Message<R>> = Vec::with_capacity(BATCH_MAX);
    while receiver.recv_many(&mut batch, BATCH_MAX).await > 0 {
        let mut records = Vec::with_capacity(batch.len());
        let (mut waiting, mut flushes) = (Vec::new(), Vec::new());
        for message in batch.drain(..) {
            match message {
                Message::Record(record, done) => {
                    records.push(record);
                    waiting.extend(done);
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        if !records.is_empty() {
            let count = records.len();
            let ok = commit(log, &mut append, records).await;
            if let Some((metrics, audit)) = &meter {
                metrics.batch(log, count, ok, *audit);
            }
            for done in waiting {
                let _ = done.send(ok);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Appends one batch: `true` once it committed, `false` (logged) when it failed.
async fn commit<R, F, Fut, E>(log: &'static str, append: &mut F, records: Vec<R>) -> bool
where
    F: FnMut(Vec<R>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error,
{
    let count = records.len();
    match append(records).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(
                error = %crate::telemetry::error_chain(&error),
                records = count,
                log,
                "a group commit failed; refusing the requests that waited for it"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("store unavailable")]
    struct Unavailable;

    type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

    fn writer(batches: Batches, failing: Arc<AtomicBool>) -> GroupCommit<u32> {
        GroupCommit::spawn("test", move |records: Vec<u32>| {
            let (batches, failing) = (batches.clone(), failing.clone());
            async move {
                // Long enough for concurrent requests to pile up behind this transaction.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if failing.load(Ordering::SeqCst) {
                    return Err(Unavailable);
                }
                batches.lock().unwrap().push(records);
                Ok(())
            }
        })
    }

    #[tokio::test]
    async fn concurrent_records_share_commits_and_learn_their_fate() {
        let (batches, failing) = (Batches::default(), Arc::new(AtomicBool::new(false)));
        let log = writer(batches.clone(), failing.clone());
        let results = futures_join((0..100).map(|n| {
            let log = log.clone();
            async move { log.write(n).await }
        }))
        .await;
        assert!(results.iter().all(|ok| *ok));
        let batches = batches.lock().unwrap().clone();
        let mut written: Vec<u32> = batches.iter().flatten().copied().collect();
        written.sort_unstable();
        assert_eq!(written, (0..100).collect::<Vec<_>>());
        assert!(
            batches.len() < 100,
            "no grouping: {} commits",
            batches.len()
        );

        failing.store(true, Ordering::SeqCst);
        assert!(!log.write(100).await);
        failing.store(false, Ordering::SeqCst);
        assert!(log.write(101).await);
        assert!(log.write_detached(102));
        assert!(log.write(103).await);
    }

    #[tokio::test]
    async fn flush_waits_for_records_queued_without_waiting() {
        let batches = Batches::default();
        let log = writer(batches.clone(), Arc::new(AtomicBool::new(false)));
        assert!(log.write_detached(1));
        assert!(log.write_detached(2));
        log.flush().await;
        let written: Vec<u32> = batches.lock().unwrap().iter().flatten().copied().collect();
        assert_eq!(written, [1, 2]);
        log.flush().await; // nothing queued: answers at once
    }

    /// Runs the futures concurrently on the current runtime, results in order.
    async fn futures_join<F: Future<Output = bool> + Send + 'static>(
        futures: impl Iterator<Item = F>,
    ) -> Vec<bool> {
        let tasks: Vec<_> = futures.map(tokio::spawn).collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }
}
