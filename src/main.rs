use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = sealpost::cli::Cli::parse();
    let json = cli.json_output();
    match sealpost::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        // Exit 1 (refused or failed) or 2 (usage): see `sealpost::client`.
        Err(error) => sealpost::client::report_failure(&error, json),
    }
}
