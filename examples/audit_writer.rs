//! The audit writer's own throughput (bench/audit_writer.sh): durable records per second
//! through exactly what the gateway runs for each request, `shared::group_commit::GroupCommit` in front
//! of the repository's `append_gateway_log` (one transaction per batch; on SQLite WAL with
//! `synchronous = FULL`, so every commit is fsynced), with `--writers` concurrent writers each
//! waiting for its record's commit before writing the next, as a request does.
//!
//!     cargo run --release --example audit_writer -- --data-dir /tmp/aw --writers 32 --secs 10
//!
//! Makes a fresh SQLite database in `--data-dir` (or uses `--database-url`), one producer and
//! `--documents` made-up document ids, then runs `--secs` seconds after a one-second warm-up.
//! Prints `records/s`, commits (batches) and records per commit, and checks the rows written
//! equal the writes acknowledged.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Parser;
use schema::{DocumentId, GatewayLogRecord, Producer, ProducerId};
use shared::group_commit::GroupCommit;
use shared::logline::RequestHead;

#[derive(Parser)]
struct Args {
    /// A directory for a fresh SQLite database (`DIR/sealpost.db`).
    #[arg(long, conflicts_with = "database_url")]
    data_dir: Option<std::path::PathBuf>,
    /// An existing, empty database instead.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent writers (requests in flight).
    #[arg(long, default_value_t = 32)]
    writers: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Distinct document ids the records name (each has its own hit counter).
    #[arg(long, default_value_t = 1_000)]
    documents: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = match (&args.database_url, &args.data_dir) {
        (Some(url), _) => url.clone(),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)?;
            format!("sqlite:{}", dir.join("sealpost.db").display())
        }
        (None, None) => bail!("give --data-dir or --database-url"),
    };
    let repo = schema::connect(&url).await.context("connecting")?;
    repo.migrate().await?;
    let producer = Producer {
        id: ProducerId::random(),
        name: format!("bench-{}", std::process::id()),
        email: None,
        public_key: vec![7; 32],
        created_at: Utc::now(),
    };
    repo.insert_producer(&producer).await?;
    let documents: Arc<Vec<DocumentId>> = Arc::new(
        (0..args.documents.max(1))
            .map(|_| DocumentId::random())
            .collect(),
    );

    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let (repo, commits) = (repo.clone(), commits.clone());
        GroupCommit::spawn("gateway", move |records: Vec<GatewayLogRecord>| {
            let (repo, commits) = (repo.clone(), commits.clone());
            async move {
                let result = repo.append_gateway_log(&records).await.map(drop);
                commits.fetch_add(1, Ordering::Relaxed);
                result
            }
        })
    };

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let measured = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..args.writers.max(1) {
        let (writer, documents, producer_id) =
            (writer.clone(), documents.clone(), producer.id.clone());
        let (measuring, stop) = (measuring.clone(), stop.clone());
        let (acknowledged, measured, failed) =
            (acknowledged.clone(), measured.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            while !stop.load(Ordering::Relaxed) {
                let document = &documents[n % documents.len()];
                let start = Utc::now();
                let uri = format!("/{}", document.as_str());
                let record = GatewayLogRecord {
                    producer_id: Some(producer_id.clone()),
                    document_id: Some(document.clone()),
                    time: start,
                    head: RequestHead {
                        document: Some(document.as_str()),
                        start,
                        end: Some(start),
                        remote: Some(IpAddr::V4(Ipv4Addr::new(10, 0, (w >> 8) as u8, w as u8))),
                        method: "GET",
                        uri: &uri,
                        status: Some(303),
                    }
                    .line(),
                };
                if writer.write(record).await {
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                    if measuring.load(Ordering::Relaxed) {
                        measured.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                n += args.writers;
            }
        }));
    }
    drop(writer);

    tokio::time::sleep(Duration::from_secs(1)).await;
    let commits_before = commits.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let records = measured.load(Ordering::Relaxed);
    let batches = commits.load(Ordering::Relaxed) - commits_before;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await?;
    }

    let rows = repo
        .gateway_log(
            Some(&producer.id),
            None,
            chrono::DateTime::<Utc>::MIN_UTC,
            Utc::now(),
        )
        .await?
        .len() as u64;
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    println!(
        "audit writer: {:.0} records/s durable ({} writers, {records} records in {elapsed:.1} s, \
         {batches} commits, {:.1} records per commit); rows {rows} = acknowledged {acknowledged}, \
         failed {}",
        records as f64 / elapsed,
        args.writers,
        records as f64 / batches.max(1) as f64,
        failed.load(Ordering::Relaxed)
    );
    if rows != acknowledged || failed.load(Ordering::Relaxed) > 0 {
        bail!("rows written differ from the writes acknowledged");
    }
    Ok(())
}
