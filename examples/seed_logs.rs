//! Fills an instance's three audit logs with records for one producer, for the `GET /logs`
//! benchmark (bench/logs_export.sh): straight through the repository's own append path
//! (`append_api_log`, `append_gateway_log`, `append_vault_log`: hit numbers and hash chains as
//! the services write them, so the export verifies with `sealpost logs verify`).
//!
//!     cargo run --release --example seed_logs -- \
//!         --database-url sqlite:sealpost-data/sealpost.db --records 1000000
//!
//! Records are spread round-robin over the three logs, over `--documents` made-up document ids,
//! with times evenly spaced over the `--days` before now, in batches of `--batch` records (one
//! transaction each). The lines look like real ones (DESIGN.md's columns): API `GET
//! /documents/{id}` 200, gateway `GET /{placeholder}` 303, vault `REST.GET.OBJECT` 200.
//! Prints `seeded N records (api A, gateway G, vault V) in S s (R records/s)`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, Utc};
use clap::Parser;
use schema::{ApiLogRecord, DocumentId, GatewayLogRecord, VaultLogRecord};
use shared::logline::{RequestHead, join_columns, time};

#[derive(Parser)]
struct Args {
    /// The instance's database (`sqlite:DATA_DIR/sealpost.db` or a PostgreSQL URL).
    #[arg(long)]
    database_url: String,
    /// The producer (by name) whose logs get the records.
    #[arg(long, default_value = "default")]
    producer: String,
    /// Records in all, spread over the three logs.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Distinct (made-up) document ids the records name.
    #[arg(long, default_value_t = 1_000)]
    documents: usize,
    /// Records per append (one transaction).
    #[arg(long, default_value_t = 4_096)]
    batch: usize,
    /// The records' times are spread over this many days before now.
    #[arg(long, default_value_t = 30)]
    days: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = schema::connect(&args.database_url).await?;
    let producer = repo
        .producer_by_name(&args.producer)
        .await?
        .with_context(|| format!("no producer named {:?}", args.producer))?;
    let documents: Vec<DocumentId> = (0..args.documents.max(1))
        .map(|_| DocumentId::random())
        .collect();
    let now = Utc::now();
    let first = now - Duration::days(args.days);
    let step_ms = (args.days * 86_400_000) / i64::try_from(args.records.max(1))?;
    let batch = args.batch.max(1);

    let started = Instant::now();
    let (mut api, mut gateway, mut vault) = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = [0usize; 3];
    for i in 0..args.records {
        let at = first + Duration::milliseconds(step_ms * i64::try_from(i)?);
        let end = at + Duration::milliseconds(3);
        let document = &documents[i % documents.len()];
        let remote = Some(IpAddr::V4(Ipv4Addr::new(
            10,
            (i >> 16) as u8,
            (i >> 8) as u8,
            i as u8,
        )));
        match i % 3 {
            0 => {
                let uri = format!("/documents/{document}");
                api.push(ApiLogRecord {
                    producer_id: Some(producer.id.clone()),
                    document_id: Some(document.clone()),
                    time: end,
                    head: RequestHead {
                        document: Some(document.as_str()),
                        start: at,
                        end: Some(end),
                        remote,
                        method: "GET",
                        uri: &uri,
                        status: Some(200),
                    }
                    .line(),
                    tail: "operator@example.com".to_owned(),
                });
            }
            1 => {
                let uri = format!("/{}", DocumentId::random());
                gateway.push(GatewayLogRecord {
                    producer_id: Some(producer.id.clone()),
                    document_id: Some(document.clone()),
                    time: end,
                    head: RequestHead {
                        document: Some(document.as_str()),
                        start: at,
                        end: Some(end),
                        remote,
                        method: "GET",
                        uri: &uri,
                        status: Some(303),
                    }
                    .line(),
                });
            }
            _ => {
                let size = 20_000 + (i % 5_000) as u64;
                vault.push(VaultLogRecord {
                    producer_id: Some(producer.id.clone()),
                    document_id: Some(document.clone()),
                    time: end,
                    fields: join_columns(&[
                        Some(document.to_string()),
                        Some(time(end)),
                        remote.map(|ip| ip.to_string()),
                        Some("REST.GET.OBJECT".to_owned()),
                        Some(format!("doc-{}", i % 1000)),
                        Some(format!("/h/<redacted:{:032x}>", i)),
                        Some("HTTP/1.1".to_owned()),
                        Some("200".to_owned()),
                        None,
                        Some(size.to_string()),
                        Some(size.to_string()),
                        Some("3".to_owned()),
                        None,
                        Some("Mozilla/5.0 (X11; Linux x86_64)".to_owned()),
                    ]),
                });
            }
        }
        if api.len() >= batch {
            counts[0] += api.len();
            repo.append_api_log(&std::mem::take(&mut api)).await?;
        }
        if gateway.len() >= batch {
            counts[1] += gateway.len();
            repo.append_gateway_log(&std::mem::take(&mut gateway))
                .await?;
        }
        if vault.len() >= batch {
            counts[2] += vault.len();
            repo.append_vault_log(&std::mem::take(&mut vault)).await?;
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "{} records in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    counts[0] += api.len();
    counts[1] += gateway.len();
    counts[2] += vault.len();
    repo.append_api_log(&api).await?;
    repo.append_gateway_log(&gateway).await?;
    repo.append_vault_log(&vault).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {} records (api {}, gateway {}, vault {}) in {secs:.1} s ({:.0} records/s)",
        args.records,
        counts[0],
        counts[1],
        counts[2],
        args.records as f64 / secs.max(1e-9)
    );
    Ok(())
}
