//! `gateway`: the viewer-facing gateway as its own process, for a scaled-out deployment
//! (docker-compose.yml). Configured like `sealpost` (sealpost.toml in the working directory,
//! SEALPOST__SECTION__KEY variables, e.g. SEALPOST__GATEWAY__ADDR); stops cleanly on SIGTERM.
//! It needs the database, the handle-signing key, the seal keys and the record keys of the data
//! directory, and the vault's public URL (`vault.public_url`, else `http://{vault.addr}`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use shared::config::Settings;
use shared::handle::GATEWAY_KEY_FILE;
use shared::keys::SigningKey;

/// Serve the Sealpost viewer gateway. Reads the same configuration as `sealpost`
/// (sealpost.toml, SEALPOST__SECTION__KEY variables); stops cleanly on SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about)]
struct Args {
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
            eprintln!("gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut settings = Settings::load(None, &[])?;
    shared::tls::apply_flags(&mut settings.tls, args.tls_cert, args.tls_key);
    settings.admin.addr = args.admin_addr.unwrap_or(settings.admin.addr);
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    // The record keys (record-keys.json, the same file as the API server's) open the audiences
    // and challenges the database holds sealed.
    let repo = shared::record_keys::connect(&settings).await?;
    let key = SigningKey::load_or_create(&settings.data_dir.join(GATEWAY_KEY_FILE))
        .context("loading the gateway's handle-signing key")?;
    let listener = shared::service::bind(settings.gateway.addr)?;
    let metrics = shared::ops::Metrics::default();
    let vault_addr = settings.vault.addr;
    let gateway = gateway::startup::start(&settings, repo, key, listener, vault_addr, &metrics)?;
    let gateway = shared::ops::admin::attach(gateway, settings.admin.addr, metrics);
    println!(
        "Gateway: {}",
        shared::tls::base_url(&settings.tls, gateway.addr)
    );
    gateway.run_until_signal().await
}
