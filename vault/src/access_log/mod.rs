//! The vault access log: one [`AccessRecord`] per request, written to the repository in batches.
//!
//! Requests hand their record to an [`AccessLog`] (a channel sender, cheap to clone) and never
//! wait for the database: a download must not stall or fail because the log is slow. One writer
//! task appends the records with [`schema::LogRepo::append_vault_log`], one transaction per
//! batch, when a batch fills ([`BATCH_MAX`]) and at least every `flush_every` (the spec allows
//! delivery hours late; DESIGN.md asks for at most 5 seconds by default). [`AccessLog::close`]
//! writes everything sent before it, so a clean stop loses nothing.
//!
//! A failed write keeps its records and retries at the next tick; only a failure at close (after
//! a few retries) drops records, and says how many. The channel is unbounded on purpose: a
//! bounded one would have to either drop records or block downloads while the database is slow;
//! memory grows only with the request rate times the length of a database outage.

mod record;

use std::sync::Arc;
use std::time::Duration;

use schema::{LogRepo, VaultLogRecord};
use shared::ops::Metrics;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

pub use record::AccessRecord;

/// Records per transaction: big enough to amortise the commit, small enough to keep a
/// transaction short.
pub const BATCH_MAX: usize = 512;
/// Attempts to write what is left when closing, one second apart.
const CLOSE_ATTEMPTS: u32 = 3;

enum Command {
    Record(VaultLogRecord),
    /// Write everything received so far, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything received so far, answer, and end.
    Close(oneshot::Sender<()>),
}

/// The sending side of the vault access log; clone it freely.
#[derive(Clone, Debug)]
pub struct AccessLog {
    sender: mpsc::UnboundedSender<Command>,
}

impl AccessLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(repo: Arc<dyn LogRepo>, flush_every: Duration) -> Self {
        Self::spawn_metered(repo, flush_every, Metrics::default())
    }

    /// [`spawn`](Self::spawn), counting batches and records written or failed into `metrics`.
    pub fn spawn_metered(repo: Arc<dyn LogRepo>, flush_every: Duration, metrics: Metrics) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let every = flush_every.max(Duration::from_millis(10));
        tokio::spawn(write_loop(Writer { repo, metrics }, receiver, every));
        Self { sender }
    }

    /// Whether the writer still takes records (the readiness probe).
    pub fn is_alive(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Queues one record. Never blocks; after [`close`](Self::close) the record is dropped and
    /// a warning says so.
    pub fn record(&self, record: AccessRecord) {
        if self
            .sender
            .send(Command::Record(record.into_row()))
            .is_err()
        {
            tracing::warn!("vault access log already closed: one record dropped");
        }
    }

    /// Returns once every record queued before this call was written (or its write failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes every record queued before this call and stops the writer. Call it after the
    /// servers stopped, so no request is still producing records.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Command::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The writer task's store, and where it counts what it writes.
struct Writer {
    repo: Arc<dyn LogRepo>,
    metrics: Metrics,
}

async fn write_loop(
    repo: Writer,
    mut receiver: mpsc::UnboundedReceiver<Command>,
    flush_every: Duration,
) {
    let mut batch: Vec<VaultLogRecord> = Vec::new();
    let mut tick = tokio::time::interval(flush_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            command = receiver.recv() => match command {
                Some(Command::Record(row)) => {
                    batch.push(row);
                    if batch.len() >= BATCH_MAX {
                        write(&repo, &mut batch).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    write(&repo, &mut batch).await;
                    let _ = done.send(());
                }
                Some(Command::Close(done)) => {
                    receiver.close();
                    // Whatever raced the close is still in the channel: keep it too.
                    let mut waiting = vec![done];
                    while let Ok(command) = receiver.try_recv() {
                        match command {
                            Command::Record(row) => batch.push(row),
                            Command::Flush(done) | Command::Close(done) => waiting.push(done),
                        }
                    }
                    write_at_close(&repo, &mut batch).await;
                    for done in waiting {
                        let _ = done.send(());
                    }
                    return;
                }
                None => {
                    write_at_close(&repo, &mut batch).await;
                    return;
                }
            },
            _ = tick.tick() => {
                write(&repo, &mut batch).await;
            }
        }
    }
}

/// Appends `batch` in transactions of at most [`BATCH_MAX`] records, removing what was written.
/// On failure the rest stays in `batch` for the next attempt.
async fn write(writer: &Writer, batch: &mut Vec<VaultLogRecord>) -> bool {
    while !batch.is_empty() {
        let len = batch.len().min(BATCH_MAX);
        let written = writer.repo.append_vault_log(&batch[..len]).await;
        writer.metrics.batch("vault", len, written.is_ok(), true);
        match written {
            Ok(()) => drop(batch.drain(..len)),
            Err(error) => {
                tracing::error!(
                    error = %shared::telemetry::error_chain(&error),
                    pending = batch.len(),
                    "writing the vault access log failed; will retry"
                );
                return false;
            }
        }
    }
    true
}

async fn write_at_close(repo: &Writer, batch: &mut Vec<VaultLogRecord>) {
    for attempt in 1..=CLOSE_ATTEMPTS {
        if write(repo, batch).await {
            return;
        }
        if attempt < CLOSE_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    tracing::error!(
        lost = batch.len(),
        "vault access log records could not be written at shutdown"
    );
}
