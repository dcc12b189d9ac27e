//! SQLite's audit-log appends on a connection and an OS thread of their own.
//!
//! Why: sqlx's SQLite driver runs each connection on a worker thread and sends it every
//! statement over a channel, so an append — `BEGIN IMMEDIATE`, the hit-counter upserts, the
//! chain heads, the insert, the new heads, `COMMIT` — was six or more thread hand-offs, each a
//! futex wake and a context switch both ways. Measured with `examples/audit_writer.rs` (32
//! writers, WAL, `synchronous = FULL`): ~58–72 µs of CPU per record and ~450 commits/s although
//! an `fdatasync` takes ~0.24 ms here. This writer runs the same statements on one `rusqlite`
//! connection owned by one thread: one hand-off to the thread and one back per transaction,
//! prepared statements cached across transactions.
//!
//! Why `rusqlite` 0.39 rather than sqlx's own connection (`lock_handle()`): the raw handle
//! needs `unsafe` FFI for every statement; rusqlite 0.39 depends on exactly the
//! `libsqlite3-sys` 0.37 (bundled) that sqlx-sqlite links, so both use ONE SQLite library in
//! the process and SQLite's in-process bookkeeping of the file's POSIX locks stays shared
//! (two copies of SQLite in one process could break each other's locks).
//!
//! Guarantees, as with the sqlx path it replaces:
//! - one transaction per batch (`BEGIN IMMEDIATE` … `COMMIT`) on a connection with
//!   `synchronous = FULL`: a caller hears `Ok` only once its records' commit was fsynced;
//! - on any error the transaction rolls back (nothing half-written) and the caller hears `Err`
//!   (the services then answer 503); when several callers' batches shared the failed
//!   transaction, each is retried alone so that one bad batch fails only its own caller;
//! - `SQLITE_BUSY` (another process held the write lock past the busy timeout) retries the
//!   whole transaction, [`BUSY_RETRIES`] times, then fails it: records are refused, never
//!   dropped; hit counters and chain heads are read inside the transaction, so they stay
//!   gapless across processes;
//! - the thread ends only once every repository handle is gone, after writing every batch
//!   already queued (a clean shutdown loses nothing).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use super::log_append::{self, Failed};
use crate::log_codec::LogEntry;
use crate::model::LogKind;
use crate::repo::RepoError;
use crate::views::GatewayView;

/// Callers' batches per transaction at most (each at most a group commit's batch).
const JOBS_MAX: usize = 16;
/// Transactions retried after `SQLITE_BUSY` before the batch fails.
const BUSY_RETRIES: u32 = 3;
/// Prepared statements kept per connection (a few per log).
const STATEMENT_CACHE: usize = 32;

/// One caller's batch: written (again, on a retry) into an open transaction, then told.
trait Job: Send {
    /// Writes the batch in `tx`; may run more than once (each time from scratch).
    fn write(&mut self, tx: &Connection) -> Result<(), Failed>;
    /// Tells the caller: `Ok` once the transaction holding the batch committed.
    fn finish(self: Box<Self>, outcome: Result<(), RepoError>);
}

/// An append to one log, and where its outcome (the hit numbers) goes.
struct Append<R> {
    kind: LogKind,
    records: Vec<R>,
    fields: fn(&R, Option<i64>) -> String,
    /// The gateway records' attributions (empty: none), written with the lines.
    views: Vec<Option<GatewayView>>,
    hits: Vec<Option<i64>>,
    reply: oneshot::Sender<Result<Vec<Option<i64>>, RepoError>>,
}

impl<R: LogEntry + Send> Job for Append<R> {
    fn write(&mut self, tx: &Connection) -> Result<(), Failed> {
        let (kind, fields) = (self.kind, self.fields);
        self.hits = log_append::append(tx, kind, &self.records, fields, &self.views)?;
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: Result<(), RepoError>) {
        let Append { reply, hits, .. } = *self;
        let _ = reply.send(outcome.map(|()| hits));
    }
}

/// The sending side; the thread ends when it is dropped (after the queued batches).
#[derive(Debug)]
pub(crate) struct LogWriter {
    // Unbounded, but each caller has at most one batch in flight (it awaits the answer), and a
    // batch is at most a group commit's: the queue is bounded by the callers.
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl LogWriter {
    /// Starts the thread for the database file at `path` (created and migrated by the pool;
    /// the connection opens on the first batch, after the migrations ran).
    pub(crate) fn start(path: PathBuf, busy_timeout: Duration) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sealpost-log-writer".to_owned())
            .spawn(move || run(&path, busy_timeout, &queue))?;
        Ok(Self { jobs })
    }

    /// Appends `records` to `kind`'s log in one durable transaction (numbered per document
    /// unless it is the vault log), with their side rows (`views`: the gateway records'
    /// attributions, empty for none; the vault's downloads); see
    /// `LogRepo::append_gateway_log_viewed`.
    pub(crate) async fn append<R>(
        &self,
        kind: LogKind,
        records: &[R],
        fields: fn(&R, Option<i64>) -> String,
        views: Vec<Option<GatewayView>>,
    ) -> Result<Vec<Option<i64>>, RepoError>
    where
        R: LogEntry + Clone + Send + 'static,
    {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let job = Append {
            kind,
            records: records.to_vec(),
            fields,
            views,
            hits: Vec::new(),
            reply,
        };
        self.jobs.send(Box::new(job)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> RepoError {
    log_append::repo_error("the audit-log writer thread is gone")
}

/// The thread: takes every batch queued, writes them in one transaction, answers each.
fn run(path: &Path, busy_timeout: Duration, queue: &mpsc::Receiver<Box<dyn Job>>) {
    let mut conn = None;
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < JOBS_MAX {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        match commit_jobs(&mut conn, path, busy_timeout, &mut jobs) {
            Ok(()) => jobs.into_iter().for_each(|job| job.finish(Ok(()))),
            Err(failed) if jobs.len() == 1 => fail(jobs, &failed),
            Err(_) => {
                for mut job in jobs {
                    let alone = std::slice::from_mut(&mut job);
                    match commit_jobs(&mut conn, path, busy_timeout, alone) {
                        Ok(()) => job.finish(Ok(())),
                        Err(failed) => fail(vec![job], &failed),
                    }
                }
            }
        }
    }
}

fn fail(jobs: Vec<Box<dyn Job>>, failed: &Failed) {
    tracing::error!(error = %failed, "an audit-log transaction failed and was rolled back");
    for job in jobs {
        job.finish(Err(failed.to_repo_error()));
    }
}

/// Writes `jobs` in one transaction, opening the connection when needed and retrying on
/// `SQLITE_BUSY`. After any other failure the connection is closed (reopened for the next
/// batch), so a file that was replaced or repaired is seen afresh.
fn commit_jobs(
    conn: &mut Option<Connection>,
    path: &Path,
    busy_timeout: Duration,
    jobs: &mut [Box<dyn Job>],
) -> Result<(), Failed> {
    let mut attempt = 0;
    loop {
        let connection = match conn {
            Some(connection) => connection,
            None => conn.insert(open(path, busy_timeout)?),
        };
        match transaction(connection, jobs) {
            Err(failed) if failed.is_busy() && attempt < BUSY_RETRIES => attempt += 1,
            Err(failed) => {
                *conn = None;
                return Err(failed);
            }
            Ok(()) => return Ok(()),
        }
    }
}

/// `BEGIN IMMEDIATE`, every job, `COMMIT`; rolled back (when the transaction is dropped) on any
/// error.
fn transaction(conn: &mut Connection, jobs: &mut [Box<dyn Job>]) -> Result<(), Failed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in jobs.iter_mut() {
        job.write(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// Opens the database as the pool does (WAL, `synchronous = FULL`: each commit is fsynced
/// before it returns; foreign keys, `secure_delete`, the busy timeout). Never creates the file.
fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, Failed> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failed::Other(format!("journal mode {mode}, not WAL")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Whether `code` is SQLite's "another connection holds the lock".
pub(super) fn busy(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ids::DocumentId;
    use crate::model::GatewayLogRecord;
    use crate::repo::Repository as _;
    use crate::sqlite::SqliteRepository;

    fn record(document: &DocumentId) -> GatewayLogRecord {
        GatewayLogRecord {
            producer_id: None,
            document_id: Some(document.clone()),
            time: chrono::DateTime::UNIX_EPOCH,
            head: "-".to_owned(),
        }
    }

    /// While another connection holds the write lock past the busy timeout (and every retry),
    /// the append fails and writes nothing; once the lock is gone the next append numbers on
    /// from where the committed ones stopped.
    #[tokio::test]
    async fn a_held_write_lock_fails_the_batch_whole_then_numbering_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealpost.db");
        let repo = SqliteRepository::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        repo.migrate().await.unwrap();
        let writer = LogWriter::start(path.clone(), Duration::from_millis(10)).unwrap();
        let document = DocumentId::random();
        let batch = [record(&document), record(&document)];
        let fields = crate::gateway_codec::log_fields;
        let append = || writer.append(LogKind::Gateway, &batch, fields, Vec::new());
        assert_eq!(append().await.unwrap(), [Some(1), Some(2)]);

        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(append().await.is_err());
        holder.execute_batch("ROLLBACK").unwrap();

        assert_eq!(append().await.unwrap(), [Some(3), Some(4)]);
        let rows: i64 = holder
            .query_row("SELECT count(*) FROM gateway_log", (), |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 4);
    }
}
