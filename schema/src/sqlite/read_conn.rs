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

use std::path::{Path, PathBuf};
use std::sync::mpsc;
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

/// The committed failures of a window key pair: `(address, document)`.
pub(crate) type WindowCounts = (i64, i64);

/// One check: the two keys of `address_failures` in the window starting at `start`.
struct Job {
    address: String,
    document_key: String,
    start: i64,
    reply: oneshot::Sender<Result<WindowCounts, RepoError>>,
}

/// The sending side; the thread ends when it is dropped.
#[derive(Debug)]
pub(crate) struct ReadConn {
    // Each caller has at most one check in flight (it awaits the answer): bounded by callers.
    jobs: mpsc::Sender<Job>,
}

impl ReadConn {
    /// Starts the thread for the database file at `path` (the connection opens on the first
    /// check, after the pool created and migrated the file).
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sealpost-lockout-reads".to_owned())
            .spawn(move || run(&path, &queue))?;
        Ok(Self { jobs })
    }

    /// The address's and the document's failures in the window starting at `start`, read
    /// under the database's write lock: after every reservation (any process) that holds it.
    pub(crate) async fn window_counts(
        &self,
        address: &str,
        document_key: &str,
        start: i64,
    ) -> Result<WindowCounts, RepoError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            address: address.to_owned(),
            document_key: document_key.to_owned(),
            start,
            reply,
        };
        self.jobs.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
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
        match read_jobs(&mut conn, path, &jobs) {
            Ok(counts) => {
                for (job, counts) in jobs.into_iter().zip(counts) {
                    let _ = job.reply.send(Ok(counts));
                }
            }
            Err(error) => {
                tracing::error!(%error, "a strict lockout read failed");
                for job in jobs {
                    let _ = job.reply.send(Err(repo_error(error.to_string())));
                }
            }
        }
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
        let connection = match conn {
            Some(connection) => connection,
            None => conn.insert(open(path)?),
        };
        match transaction(connection, jobs) {
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
    let counts = {
        let mut select = tx.prepare_cached(
            "SELECT coalesce(sum(failures) FILTER (WHERE address = ?1), 0), \
             coalesce(sum(failures) FILTER (WHERE address = ?2), 0) \
             FROM address_failures WHERE window_start = ?3 AND address IN (?1, ?2)",
        )?;
        jobs.iter()
            .map(|job| {
                select.query_row((&job.address, &job.document_key, job.start), |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    tx.rollback()?;
    Ok(counts)
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
