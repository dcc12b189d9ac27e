//! `vault`: the vault as its own process (the handle endpoint and the internal object API).
//! See [`vault::standalone`] for what it does differently from the vault inside `sealpost up`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shared::config::Settings;

/// Serve the Sealpost vault: viewers' downloads (`/h/{handle}`) and the internal object API
/// the API server uses when `vault.internal_url` points here. Reads the same configuration as
/// `sealpost` (sealpost.toml, SEALPOST__SECTION__KEY variables); stops cleanly on SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "vault", version, about)]
struct Args {
    /// Configuration file [default: ./sealpost.toml when present]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (keyring, local object store, service token) [default: ./sealpost-data]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Listen address [default: vault.addr, 127.0.0.1:8082]
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
            eprintln!("vault: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut settings = Settings::load_for_service(
        args.config.as_deref(),
        args.data_dir.as_deref(),
        "vault.addr",
        args.addr,
    )?;
    shared::tls::apply_flags(&mut settings.tls, args.tls_cert, args.tls_key);
    settings.admin.addr = args.admin_addr.unwrap_or(settings.admin.addr);
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    let metrics = shared::ops::Metrics::default();
    let vault = vault::standalone::start_metered(&settings, &metrics).await?;
    let vault = shared::ops::admin::attach(vault, settings.admin.addr, metrics);
    println!(
        "Vault: {}",
        shared::tls::base_url(&settings.tls, vault.addr)
    );
    vault.run_until_signal().await
}
