//! What the gateway's brute-force limits write, and that they hold across processes sharing
//! one SQLite file (issue 20): a member's check reads under the write lock, so it waits for
//! another process's reservation that is counted but not committed yet; an HTTP Auth success
//! with no failure to clear writes nothing to the lockout tables (its count is held open while
//! comparing, then rolled back), a failure stays counted, a success after failures clears them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schema::sqlite::SqliteRepository;
use schema::{
    Attempt, AttemptLimits, DocumentId, LockPolicy, LockoutRepo, Refusal, Repository, Reservation,
};
use sqlx::Connection as _;

use crate::common::{Db, TestApp, on_both_databases};
use crate::gateway::{audience, basic, create, digest, field, harry, no_redirects};

on_both_databases!(
    a_basic_success_writes_nothing_to_the_lockout_tables,
    a_digest_success_writes_only_its_counter,
);

const ADDRESS: &str = "192.0.2.77";

fn limits(per_address: u32) -> AttemptLimits {
    AttemptLimits {
        policy: LockPolicy::default(),
        per_address,
        per_document: 1_000,
        window: Duration::hours(1),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_000).unwrap_or_default()
}

fn attempt(document: &DocumentId) -> Attempt<'_> {
    Attempt {
        document,
        viewer: None,
        address: ADDRESS,
        now: now(),
    }
}

/// Two repositories over one file: two processes as far as the lockout is concerned (each its
/// own pool, its own in-process ordering, its own read connection).
async fn two_processes(dir: &tempfile::TempDir) -> (String, SqliteRepository, SqliteRepository) {
    let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
    let first = SqliteRepository::connect(&url).await.unwrap();
    first.migrate().await.unwrap();
    let second = SqliteRepository::connect(&url).await.unwrap();
    (url, first, second)
}

/// The window is one short of full; another process has counted the attempt that fills it and
/// not committed yet. A member's check in this process must come after it (refused), as on
/// PostgreSQL, not read the committed count and pass.
#[tokio::test]
async fn a_check_waits_for_another_process_uncommitted_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let (url, first, second) = two_processes(&dir).await;
    let document = DocumentId::random();
    let limits = limits(3);
    for _ in 0..2 {
        let granted = first.reserve_attempt(&attempt(&document), &limits).await;
        assert!(matches!(
            granted.unwrap(),
            Reservation::Granted { then: None }
        ));
    }
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE address_failures SET failures = failures + 1 WHERE address = $1")
        .bind(ADDRESS)
        .execute(&mut other)
        .await
        .unwrap();

    let second = Arc::new(second);
    let checker = second.clone();
    let check = tokio::spawn(async move {
        let document = document;
        checker.check_attempt(&attempt(&document), &limits).await
    });
    // Time for the check to read, were it to read without waiting (what this test catches).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();

    let refusal = check.await.unwrap().unwrap();
    assert!(matches!(refusal, Some(Refusal::Until(_))), "{refusal:?}");
}

/// Far from the limits, a check needs no lock: with another process holding the write lock
/// (and at most one attempt uncommitted under it), the committed counts decide, and the check
/// is answered at once rather than waiting for the lock.
#[tokio::test]
async fn a_check_far_from_the_limits_takes_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (url, first, second) = two_processes(&dir).await;
    let document = DocumentId::random();
    let limits = limits(3);
    let granted = first.reserve_attempt(&attempt(&document), &limits).await;
    assert!(matches!(
        granted.unwrap(),
        Reservation::Granted { then: None }
    ));
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("UPDATE address_failures SET failures = failures + 1 WHERE address = $1")
        .bind(ADDRESS)
        .execute(&mut other)
        .await
        .unwrap();
    // One committed, at most one more in flight: two below the limit of 3 either way.
    let check = second.check_attempt(&attempt(&document), &limits).await;
    assert_eq!(check.unwrap(), None);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
}

/// Strangers' reservations from two processes and members' checks racing them: never more
/// answers than the limit allows once the window is full, and the window counts exactly the
/// strangers granted.
#[tokio::test]
async fn two_processes_racing_never_pass_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let (_url, first, second) = two_processes(&dir).await;
    let (first, second) = (Arc::new(first), Arc::new(second));
    let document = DocumentId::random();
    let limits = limits(5);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let repo = if i % 2 == 0 { &first } else { &second }.clone();
        let document = document.clone();
        tasks.push(tokio::spawn(async move {
            let reservation = repo.reserve_attempt(&attempt(&document), &limits).await;
            matches!(reservation.unwrap(), Reservation::Granted { .. })
        }));
    }
    let mut granted = 0;
    for task in tasks {
        granted += usize::from(task.await.unwrap());
    }
    assert_eq!(granted, 5);
    let check = second.check_attempt(&attempt(&document), &limits).await;
    assert!(matches!(check.unwrap(), Some(Refusal::Until(_))));
    let count = first.address_failures(ADDRESS, now(), limits.window).await;
    assert_eq!(count.unwrap(), 5);
}

/// Rows of `table` in the instance's database.
async fn rows(app: &TestApp, db: Db, table: &str) -> i64 {
    let url = app.settings.database_url();
    // A table name (and condition) of this file's, never input.
    let query = || sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
    match db {
        Db::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query())
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Db::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(query())
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

async fn lockout_rows(app: &TestApp, db: Db) -> (i64, i64) {
    (
        rows(app, db, "address_failures").await,
        rows(app, db, "challenge_failures").await,
    )
}

async fn a_basic_success_writes_nothing_to_the_lockout_tables(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let objects = [
        ("audience", audience()),
        ("challenge", basic(field("code"))),
    ];
    let doc = create(&app, &token, b"held", &objects).await;
    let client = no_redirects();
    let status = |password: &'static str| {
        let request = client.get(harry(&app, &doc)).basic_auth("", Some(password));
        async move { request.send().await.unwrap().status() }
    };

    for _ in 0..3 {
        assert_eq!(status("tiger").await, 303);
    }
    assert_eq!(lockout_rows(&app, db).await, (0, 0), "a success wrote");

    // A failure is counted (the address's and the document's windows, the pair).
    assert_eq!(status("wrong").await, 401);
    assert_eq!(lockout_rows(&app, db).await, (2, 1));
    // A success after it clears the pair's failures; the windows keep the failure.
    assert_eq!(status("tiger").await, 303);
    assert_eq!(lockout_rows(&app, db).await, (2, 0));
    let counted = "address_failures WHERE failures = 1";
    assert_eq!(rows(&app, db, counted).await, 2);
}

/// `curl --digest -u {user_pass} {url}` (curl answers the challenge): the final status.
async fn curl_digest(user_pass: &str, url: &str) -> u16 {
    let args = [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--digest",
        "-u",
        user_pass,
        url,
    ];
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl").args(&args).output()
    });
    let output = output.await.unwrap().expect("curl runs");
    String::from_utf8(output.stdout).unwrap().parse().unwrap()
}

/// A Digest success records its `(nonce, nc)` (the replay guard) and nothing in the lockout
/// tables; a wrong answer is counted; a success after it clears the pair.
async fn a_digest_success_writes_only_its_counter(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let objects = [
        ("audience", audience()),
        ("challenge", digest(field("pin"))),
    ];
    let doc = create(&app, &token, b"held digest", &objects).await;
    let url = harry(&app, &doc);

    assert_eq!(curl_digest("harry:s3cret", &url).await, 303);
    assert_eq!(lockout_rows(&app, db).await, (0, 0), "a success wrote");
    assert_eq!(rows(&app, db, "digest_nonce_uses").await, 1);

    assert_eq!(curl_digest("harry:wrong", &url).await, 401);
    assert_eq!(lockout_rows(&app, db).await, (2, 1));
    assert_eq!(curl_digest("harry:s3cret", &url).await, 303);
    assert_eq!(lockout_rows(&app, db).await, (2, 0));
    assert_eq!(rows(&app, db, "digest_nonce_uses").await, 2);
}
