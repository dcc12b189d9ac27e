//! `gateway`: the viewer-facing gateway as its own process, for a scaled-out deployment
//! (docker-compose.yml). Configured like `sealpost` (sealpost.toml in the working directory,
//! SEALPOST__SECTION__KEY variables, e.g. SEALPOST__GATEWAY__ADDR); stops cleanly on SIGTERM.

use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context as _;
use shared::config::Settings;

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
    let listener = TcpListener::bind(settings.gateway.addr)
        .with_context(|| format!("binding {}", settings.gateway.addr))?;
    println!("Gateway: http://{}", listener.local_addr()?);
    let server = gateway::build(listener, settings.workers)?;
    let handle = server.handle();
    let task = tokio::spawn(server);
    shared::server::shutdown_signal().await?;
    handle.stop(true).await;
    let _ = task.await;
    Ok(())
}
