//! `gateway`: the viewer-facing gateway as its own process, for a scaled-out deployment
//! (docker-compose.yml). Configured like `sealpost` (sealpost.toml in the working directory,
//! SEALPOST__SECTION__KEY variables, e.g. SEALPOST__GATEWAY__ADDR); stops cleanly on SIGTERM.
//! It needs the database, the handle-signing key, the seal keys and the record keys of the data
//! directory, and the vault's public URL (`vault.public_url`, else `http://{vault.addr}`).

use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context as _;
use shared::config::{Settings, public_url};
use shared::handle::GATEWAY_KEY_FILE;
use shared::keys::SigningKey;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load(None, &[])?;
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    // The record keys (record-keys.json, the same file as the API server's) open the audiences
    // and challenges the database holds sealed.
    let repo = shared::record_keys::connect(&settings).await?;
    let key = SigningKey::load_or_create(&settings.data_dir.join(GATEWAY_KEY_FILE))
        .context("loading the gateway's handle-signing key")?;
    let vault_root = public_url(&settings.vault.public_url, settings.vault.addr);
    let listener = TcpListener::bind(settings.gateway.addr)
        .with_context(|| format!("binding {}", settings.gateway.addr))?;
    let gateway_root = public_url(&settings.gateway.public_url, listener.local_addr()?);
    let service =
        gateway::startup::service(&settings, repo.clone(), key, &gateway_root, vault_root)?;
    let audit = gateway::AuditLog::spawn(repo);
    println!("Gateway: http://{}", listener.local_addr()?);
    let limits = shared::server::slow_clients::ClientLimits::new(&settings.server);
    let server = gateway::build(service, audit, listener, settings.workers, &limits)?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    shared::server::shutdown_signal().await?;
    handle.stop(true).await;
    let _ = task.await;
    Ok(())
}
