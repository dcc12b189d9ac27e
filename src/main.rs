use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    match sealpost::cli::run(sealpost::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sealpost: {error:#}");
            ExitCode::FAILURE
        }
    }
}
