//! `api-server`: the producer REST API as its own process, storing content through a vault
//! running as its own process (`vault.internal_url`). `sealpost up` runs the same server with
//! the vault in-process; producers are created with `sealpost producer add`.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use shared::config::Settings;

/// Serve the Sealpost producer API. Reads the same configuration as `sealpost`
/// (sealpost.toml, SEALPOST__SECTION__KEY variables) and needs vault.internal_url; stops
/// cleanly on SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "api-server", version, about)]
struct Args {
    /// Configuration file [default: ./sealpost.toml when present]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (the instance key) [default: ./sealpost-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Listen address [default: api.addr, 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("api-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let settings = Settings::load_for_service(
        args.config.as_deref(),
        args.data_dir.as_deref(),
        "api.addr",
        args.addr,
    )?;
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    anyhow::ensure!(
        !settings.vault.internal_url.is_empty(),
        "set vault.internal_url to the vault's address (or run everything with `sealpost up`)"
    );
    api_server::startup::data_dir(&settings.data_dir)?;
    // The record keys (record-keys.json in the data directory, shared with the gateway) seal the
    // documents' viewer data and secrets; older plaintext rows are sealed at start-up.
    let repo = shared::record_keys::connect(&settings).await?;
    repo.reseal_records()
        .await
        .context("sealing document records under the current record key")?;
    let vault = api_server::startup::remote_vault(&settings)?;
    let listener = TcpListener::bind(settings.api.addr)
        .with_context(|| format!("binding {}", settings.api.addr))?;
    let addr = listener.local_addr()?;
    let context = Arc::new(api_server::startup::context(
        &settings,
        repo,
        vault.into(),
        addr,
        settings.gateway.addr,
    )?);
    let sweeper = api_server::documents::spawn_expiry_sweeper(
        context.clone(),
        Duration::from_secs(settings.api.expiry_sweep_secs.max(1)),
    );
    let retention =
        api_server::logs::retention::spawn_retention_sweeper(context.repo.clone(), &settings.audit);
    let limits = shared::server::slow_clients::ClientLimits::new(&settings.server);
    let server = api_server::build(context, listener, settings.workers, &limits)?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    println!("API server: http://{addr}");
    shared::server::shutdown_signal().await?;
    sweeper.abort();
    if let Some(retention) = retention {
        retention.abort();
    }
    handle.stop(true).await;
    let _ = task.await;
    Ok(())
}
