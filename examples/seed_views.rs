//! Fills the logs of one document with attributed records, for the auditor's report benchmark
//! (bench/views_report.sh): `--gateway` gateway records spread round-robin over the
//! document's `--records` audience records (each with its `gateway_views` row: three in four
//! passed the challenge and issued a handle, one in four failed it) and `--vault` vault
//! downloads through those handles (nine in ten complete), straight through the repository's
//! own append path (`append_gateway_log_viewed`, `append_vault_log`: hit numbers, hash chains
//! and side rows as the services write them).
//!
//!     cargo run --release --example seed_views -- --database-url sqlite:DATA/sealpost.db \
//!         --document DOC_ID --records 10000 --gateway 1000000 --vault 1000000
//!
//! Prints `seeded G gateway and V vault records in S s`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use schema::views::{GatewayView, ViewOutcome};
use schema::{DocumentId, GatewayLogRecord, ProducerId, VaultLogRecord};
use shared::logline::{RequestHead, join_columns, time};

#[derive(Parser)]
struct Args {
    /// The instance's database (`sqlite:DATA_DIR/sealpost.db` or a PostgreSQL URL).
    #[arg(long)]
    database_url: String,
    /// The document (it must exist: its producer scopes the records).
    #[arg(long)]
    document: String,
    /// Audience records the requests are spread over.
    #[arg(long, default_value_t = 10_000)]
    records: usize,
    #[arg(long, default_value_t = 1_000_000)]
    gateway: usize,
    #[arg(long, default_value_t = 1_000_000)]
    vault: usize,
    /// Records per append (one transaction).
    #[arg(long, default_value_t = 4_096)]
    batch: usize,
}

/// The made-up nonce of the gateway record `i` (base64url characters, unique).
fn nonce(i: usize) -> String {
    format!("n{i:021}")
}

/// Whether gateway record `i` passed (and issued a handle).
fn passed(i: usize) -> bool {
    i % 4 != 3
}

fn remote(i: usize) -> Option<IpAddr> {
    let [_, a, b, c] = u32::try_from(i).unwrap_or(0).to_be_bytes();
    Some(IpAddr::V4(Ipv4Addr::new(10, a, b, c)))
}

fn gateway_record(
    i: usize,
    doc: &DocumentId,
    producer: &ProducerId,
    at: DateTime<Utc>,
) -> GatewayLogRecord {
    let uri = if passed(i) {
        format!("/p -> /h/<redacted:{}>", nonce(i))
    } else {
        "/p".to_owned()
    };
    let status = if passed(i) { 303 } else { 401 };
    GatewayLogRecord {
        producer_id: Some(producer.clone()),
        document_id: Some(doc.clone()),
        time: at,
        head: RequestHead {
            document: Some(doc.as_str()),
            start: at,
            end: Some(at),
            remote: remote(i),
            method: "GET",
            uri: &uri,
            status: Some(status),
        }
        .line(),
    }
}

fn view(i: usize, records: usize) -> GatewayView {
    GatewayView {
        record: i64::try_from(i % records).unwrap_or(0),
        outcome: if passed(i) {
            ViewOutcome::Passed
        } else {
            ViewOutcome::Failed
        },
        nonce: passed(i).then(|| nonce(i)),
        address: remote(i).map(|ip| ip.to_string()),
    }
}

/// Vault download `j`, through the handle of a passed gateway record.
fn vault_record(
    j: usize,
    gateway: usize,
    doc: &DocumentId,
    producer: &ProducerId,
    at: DateTime<Utc>,
) -> VaultLogRecord {
    let mut i = j % gateway.max(1);
    while !passed(i) {
        i = i.saturating_sub(1);
    }
    let size = 1_000_000_u64;
    let (status, sent) = if j % 10 == 9 {
        ("206", 4096)
    } else {
        ("200", size)
    };
    VaultLogRecord {
        producer_id: Some(producer.clone()),
        document_id: Some(doc.clone()),
        time: at,
        fields: join_columns(&[
            Some(doc.to_string()),
            Some(time(at)),
            remote(j).map(|ip| ip.to_string()),
            Some("REST.GET.OBJECT".to_owned()),
            Some("object".to_owned()),
            Some(format!("\"GET /h/<redacted:{}> HTTP/1.1\"", nonce(i))),
            Some("HTTP/1.1".to_owned()),
            Some(status.to_owned()),
            None,
            Some(sent.to_string()),
            Some(size.to_string()),
            Some("3".to_owned()),
            None,
            Some("Mozilla/5.0".to_owned()),
        ]),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = schema::connect(&args.database_url).await?;
    let doc = DocumentId::parse(&args.document).context("--document")?;
    let producer = repo
        .document_by_id(&doc)
        .await?
        .context("no such document")?
        .producer_id;
    let (records, batch) = (args.records.max(1), args.batch.max(1));
    let first = Utc::now() - Duration::days(7);
    let started = Instant::now();
    for start in (0..args.gateway).step_by(batch) {
        let range = start..(start + batch).min(args.gateway);
        let at = |i: usize| first + Duration::milliseconds(i64::try_from(i).unwrap_or(0));
        let lines: Vec<_> = range
            .clone()
            .map(|i| gateway_record(i, &doc, &producer, at(i)))
            .collect();
        let views: Vec<_> = range.map(|i| Some(view(i, records))).collect();
        repo.append_gateway_log_viewed(&lines, &views).await?;
    }
    for start in (0..args.vault).step_by(batch) {
        let range = start..(start + batch).min(args.vault);
        let at = |j: usize| first + Duration::milliseconds(i64::try_from(j).unwrap_or(0) + 1);
        let lines: Vec<_> = range
            .map(|j| vault_record(j, args.gateway, &doc, &producer, at(j)))
            .collect();
        repo.append_vault_log(&lines).await?;
    }
    println!(
        "seeded {} gateway and {} vault records in {:.1} s",
        args.gateway,
        args.vault,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
