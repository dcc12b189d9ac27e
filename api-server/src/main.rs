//! `api-server`: the producer REST API as its own process, storing content through a vault
//! running as its own process (`vault.internal_url`). `sealpost up` runs the same server with
//! the vault in-process; producers are created with `sealpost producer add`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Serve HTTPS with this certificate chain (PEM; reloaded on SIGHUP) [default: tls.cert_file]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM) [default: tls.key_file]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where GET /metrics is served (never a public port) [default: admin.addr, 127.0.0.1:9464]
    #[arg(long, value_name = "ADDR")]
    admin_addr: Option<std::net::SocketAddr>,
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
    let mut settings = Settings::load_for_service(
        args.config.as_deref(),
        args.data_dir.as_deref(),
        "api.addr",
        args.addr,
    )?;
    shared::tls::apply_flags(&mut settings.tls, args.tls_cert, args.tls_key);
    settings.admin.addr = args.admin_addr.unwrap_or(settings.admin.addr);
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    anyhow::ensure!(
        !settings.vault.internal_url.is_empty(),
        "set vault.internal_url to the vault's address (or run everything with `sealpost up`)"
    );
    api_server::startup::data_dir(&settings.data_dir)?;
    let repo = api_server::startup::open_repository(&settings).await?;
    let vault = api_server::startup::remote_vault(&settings)?;
    let listener = shared::service::bind(settings.api.addr)?;
    let gateway_addr = settings.gateway.addr;
    let metrics = shared::ops::Metrics::default();
    let api = api_server::startup::start(
        &settings,
        repo,
        vault.into(),
        listener,
        gateway_addr,
        &metrics,
    )?;
    let api = shared::ops::admin::attach(api, settings.admin.addr, metrics);
    println!(
        "API server: {}",
        shared::tls::base_url(&settings.tls, api.addr)
    );
    api.run_until_signal().await
}
