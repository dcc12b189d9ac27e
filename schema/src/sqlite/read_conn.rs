//! SQLite's strict lockout reads on a connection and an OS thread of their own (issue 20).
//!
//! Why strict: a member's lockout check ([`crate::repo::LockoutRepo::check_attempt`]) writes
//! nothing, so over one SQLite file shared by several processes a plain read would not wait for
//! another process's reservation that is counted but not yet committed: in a burst, members'
//! checks would be answered before strangers' reservations filled the window, past the limit.
//! SQLite has one writer at a time and a reservation holds the write lock from its first count
//! to its commit, so a read made *while holding the write lock* (`BEGIN IMMEDIATE`, `SELECT`,
//! `ROLLBACK`) comes after every reservation that began before it, from any process, and
//! before every later one: the same order PostgreSQL's row locks give.
//!
//! Why its own thread (like `log_writer.rs`): through sqlx each of those three statements is a
//! round trip to the connection's worker thread (measured ~2,100 checks/s, strict). Here a
//! check is one hand-off to this thread and one back, and every check queued meanwhile shares
//! the same transaction (one write lock taken for many reads; a rollback writes and fsyncs
//! nothing). The busy handler polls briefly instead of SQLite's default sleeps of 1, 2, 5 ms…,
//! so a check waiting behind an audit commit resumes soon after it.
//!
//! Most checks need no lock at all: SQLite's single writer means at most one transaction is
//! uncommitted at any moment, and one transaction counts at most one attempt per window (a
//! reservation, or a recorded failure). So when the committed counts (a plain read, no lock)
//! are at least two short of both limits, the strict read could only find one more: it would
//! pass too, and the plain read's answer is the strict one. Only a window within one attempt
//! of its limit is read again under the write lock (issue 20: the audience path had paid a
//! wait behind an audit commit on every member's request).
//!
//! That plain read is made in the caller's own thread, on a connection taken from a small pool
//! ([`ReadConn::window_counts`]), not on this module's thread: a WAL read takes no lock that
//! any writer holds and never waits for one (the connection has no busy handler: should SQLite
//! answer "busy", as it may while another process recovers the WAL index, the check goes to the
//! thread), and two primary-key lookups cost less than the two thread hand-offs they saved
//! (issue 20: in a profile, those were about two fifths of a member's lockout check). Its answer is the
//! same committed snapshot whichever thread reads it, so the argument above is unchanged; only
//! a check it does not settle goes to the thread, which reads it again under the write lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::repo::RepoError;

/// Checks answered per transaction at most.
const JOBS_MAX: usize = 64;
/// Polls of the write lock at the short interval, then at the long one, before "busy" (~5 s
/// in all, the pool's busy timeout).
const SHORT_POLLS: i32 = 200;
const SHORT_POLL: Duration = Duration::from_micros(20);
const LONG_POLLS: i32 = 10_000;
const LONG_POLL: Duration = Duration::from_micros(500);
/// Transactions retried after "busy" before the checks fail.
const BUSY_RETRIES: u32 = 2;
/// Connections kept for the callers' own plain reads (one per concurrent caller at most; a
/// gateway's callers are its few worker threads).
const IDLE_MAX: usize = 8;

/// The committed failures of a window key pair: `(address, document)`.
pub(crate) type WindowCounts = (i64, i64);

/// One check: the two keys of `address_failures` in the window starting at `start`, and their
/// limits (a count that stays below it passes).
struct Job {
    address: String,
    document_key: String,
    start: i64,
    limits: WindowCounts,
    reply: oneshot::Sender<Result<WindowCounts, RepoError>>,
}

impl Job {
    /// Whether `counts` read without the lock decide this check as the strict read would.
    fn settled_by(&self, counts: WindowCounts) -> bool {
        settled(counts, self.limits)
    }
}

/// Whether `counts` read without the lock decide a check against `limits` as the strict read
/// would: one more attempt (the one uncommitted transaction there can be) still leaves room in
/// both.
fn settled(counts: WindowCounts, limits: WindowCounts) -> bool {
    counts.0.saturating_add(1) < limits.0 && counts.1.saturating_add(1) < limits.1
}

/// The sending side; the thread ends when it is dropped.
#[derive(Debug)]
pub(crate) struct ReadConn {
    // Each caller has at most one check in flight (it awaits the answer): bounded by callers.
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
    /// Connections for the callers' plain reads, made in their own threads (see the module).
    idle: Mutex<Vec<Connection>>,
}

impl ReadConn {
    /// Starts the thread for the database file at `path` (the connection opens on the first
    /// check, after the pool created and migrated the file).
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        let thread_path = path.clone();
        std::thread::Builder::new()
            .name("sealpost-lockout-reads".to_owned())
            .spawn(move || run(&thread_path, &queue))?;
        Ok(Self {
            jobs,
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The address's and the document's failures in the window starting at `start`, as read
    /// under the database's write lock (after every reservation, in any process, holding it);
    /// `limits` are the windows' limits (`per_address`, `per_document`): counts read without
    /// the lock that stay two below them are the strict answer already (see the module).
    pub(crate) async fn window_counts(
        &self,
        address: &str,
        document_key: &str,
        start: i64,
        limits: WindowCounts,
    ) -> Result<WindowCounts, RepoError> {
        if let Some(counts) = self.plain_read(address, document_key, start)
            && settled(counts, limits)
        {
            return Ok(counts);
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            address: address.to_owned(),
            document_key: document_key.to_owned(),
            start,
            limits,
            reply,
        };
        self.jobs.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// The committed counts, read in this thread on a pooled connection without any lock;
    /// `None` when that read failed for any reason ("busy" included): the thread answers then.
    fn plain_read(&self, address: &str, document_key: &str, start: i64) -> Option<WindowCounts> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_plain(&self.path).ok()?,
        };
        let counts = select_one(&conn, address, document_key, start).ok()?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_MAX
        {
            idle.push(conn);
        }
        Some(counts)
    }
}

fn gone() -> RepoError {
    repo_error("the lockout read thread is gone".to_owned())
}

fn repo_error(message: String) -> RepoError {
    RepoError::Database(sqlx::Error::Io(std::io::Error::other(message)))
}

/// The thread: takes every check queued, answers them from one write-locked transaction.
fn run(path: &Path, queue: &mpsc::Receiver<Job>) {
    let mut conn = None;
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < JOBS_MAX {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let strict = match answer_unlocked(&mut conn, path, jobs) {
            Ok(strict) => strict,
            Err((jobs, error)) => {
                fail_all(jobs, &error);
                continue;
            }
        };
        if strict.is_empty() {
            continue;
        }
        match read_jobs(&mut conn, path, &strict) {
            Ok(counts) => {
                for (job, counts) in strict.into_iter().zip(counts) {
                    let _ = job.reply.send(Ok(counts));
                }
            }
            Err(error) => fail_all(strict, &error),
        }
    }
}

/// Answers every job whose committed counts settle it ([`Job::settled_by`]); returns the others
/// (for the write-locked read), or every job and the error.
fn answer_unlocked(
    conn: &mut Option<Connection>,
    path: &Path,
    jobs: Vec<Job>,
) -> Result<Vec<Job>, (Vec<Job>, rusqlite::Error)> {
    let counts = match connected(conn, path).and_then(|c| select_all(c, &jobs)) {
        Ok(counts) => counts,
        Err(error) => {
            *conn = None;
            return Err((jobs, error));
        }
    };
    let mut strict = Vec::new();
    for (job, counts) in jobs.into_iter().zip(counts) {
        if job.settled_by(counts) {
            let _ = job.reply.send(Ok(counts));
        } else {
            strict.push(job);
        }
    }
    Ok(strict)
}

fn fail_all(jobs: Vec<Job>, error: &rusqlite::Error) {
    tracing::error!(%error, "a lockout read failed");
    for job in jobs {
        let _ = job.reply.send(Err(repo_error(error.to_string())));
    }
}

/// The connection, opened when there is none.
fn connected<'c>(
    conn: &'c mut Option<Connection>,
    path: &Path,
) -> Result<&'c mut Connection, rusqlite::Error> {
    match conn {
        Some(connection) => Ok(connection),
        None => Ok(conn.insert(open(path)?)),
    }
}

/// Reads every job's counts in one `BEGIN IMMEDIATE` … `ROLLBACK`, opening the connection when
/// needed and retrying on "busy"; after any other failure the connection is reopened next time.
fn read_jobs(
    conn: &mut Option<Connection>,
    path: &Path,
    jobs: &[Job],
) -> Result<Vec<WindowCounts>, rusqlite::Error> {
    let mut attempt = 0;
    loop {
        match transaction(connected(conn, path)?, jobs) {
            Err(error) if is_busy(&error) && attempt < BUSY_RETRIES => attempt += 1,
            Err(error) => {
                *conn = None;
                return Err(error);
            }
            Ok(counts) => return Ok(counts),
        }
    }
}

fn transaction(conn: &mut Connection, jobs: &[Job]) -> Result<Vec<WindowCounts>, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let counts = select_all(&tx, jobs)?;
    tx.rollback()?;
    Ok(counts)
}

/// The committed failures of an address and a document in the window starting at `start`:
/// two primary-key lookups ((address, window_start) is the key). An `address IN (?1, ?2)`
/// filter made SQLite build an ephemeral table for the list on every check (a B-tree opened,
/// allocated and closed: ~10 µs a check here).
const SELECT: &str = "SELECT \
     coalesce((SELECT failures FROM address_failures WHERE address = ?1 AND window_start = ?3), 0), \
     coalesce((SELECT failures FROM address_failures WHERE address = ?2 AND window_start = ?3), 0)";

/// Every job's counts, in one read transaction (a `BEGIN IMMEDIATE` one when `conn` is in it).
fn select_all(conn: &Connection, jobs: &[Job]) -> Result<Vec<WindowCounts>, rusqlite::Error> {
    let mut select = conn.prepare_cached(SELECT)?;
    jobs.iter()
        .map(|job| {
            select.query_row((&job.address, &job.document_key, job.start), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
        })
        .collect()
}

/// One check's counts, in a read transaction of its own.
fn select_one(
    conn: &Connection,
    address: &str,
    document_key: &str,
    start: i64,
) -> Result<WindowCounts, rusqlite::Error> {
    let mut select = conn.prepare_cached(SELECT)?;
    select.query_row((address, document_key, start), |row| {
        Ok((row.get(0)?, row.get(1)?))
    })
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Opens the database read-write (`BEGIN IMMEDIATE` needs it; nothing is ever committed),
/// WAL as the pool set it; never creates the file.
fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_handler(Some(poll_write_lock))?;
    conn.set_prepared_statement_cache_capacity(8);
    Ok(conn)
}

/// Opens the database for the callers' plain reads: as [`open`], without a busy handler (a
/// caller's thread never sleeps in SQLite; "busy" sends the check to the thread).
fn open_plain(path: &Path) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.set_prepared_statement_cache_capacity(2);
    Ok(conn)
}

/// SQLite's busy handler: `true` to try the lock again after a short sleep.
fn poll_write_lock(polls: i32) -> bool {
    if polls < SHORT_POLLS {
        std::thread::sleep(SHORT_POLL);
        true
    } else if polls < SHORT_POLLS + LONG_POLLS {
        std::thread::sleep(LONG_POLL);
        true
    } else {
        false
    }
}
