//! The producer's command line (issue 21): `sealpost upload`, `links`, `deliver`, `logs get`
//! and `get`, talking to a remote Sealpost over its public API.
//!
//! # Exit codes (scripts rely on them)
//! - 0: done;
//! - 1: refused by the server (its problem+json is printed on stdout), or failed otherwise (a
//!   network error after the retries, a logs zip that does not verify, a document that does
//!   not decrypt): nothing partial is left behind;
//! - 2: usage (clap's own errors, and flag values that cannot be used: a CSV without a token
//!   column, JSON that does not parse).
//!
//! # Layout
//! - [`args`]: the flags; [`http`]: credentials, retries, problem+json; [`multipart`]: the
//!   streamed upload body; [`audience`] and [`parts`]: the form parts from flags and files;
//!   [`progress`]: bars on a terminal only; [`upload`], [`links`], [`deliver`], [`logs_get`],
//!   [`get`]: one command each; [`e2e`]: top-secret keys and links.

pub mod args;
pub mod audience;
pub mod deliver;
pub mod e2e;
pub mod get;
pub mod http;
pub mod links;
pub mod logs_get;
pub mod multipart;
pub mod parts;
pub mod progress;
pub mod upload;

use std::process::ExitCode;

use serde_json::{Value, json};

/// A flag value that cannot be used (exit 2, as clap's own usage errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The server refused the request (exit 1): its status and problem+json.
#[derive(Debug, thiserror::Error)]
#[error("the server refused: {status} {}", problem_summary(.problem))]
pub struct Refused {
    pub status: u16,
    /// The problem+json body (or `{"status", "detail"}` made from a body that was not JSON).
    pub problem: Value,
}

fn problem_summary(problem: &Value) -> String {
    let text = |key: &str| problem.get(key).and_then(Value::as_str).unwrap_or_default();
    [text("title"), text("detail")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

/// The command printed its result on stdout and still fails (exit 1): `deliver --wait` whose
/// recipients failed. With `--json` the result is the one JSON object: no `{"error"}` follows.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FailedAfterResult(pub String);

/// A usage error (exit 2) saying `message`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Prints a command's result: compact JSON with `--json`, else `text` (when given) or
/// pretty JSON.
pub fn print_result(json_mode: bool, value: &Value, text: Option<String>) {
    match (json_mode, text) {
        (false, Some(text)) => print!("{text}"),
        (false, None) => println!("{value:#}"),
        (true, _) => println!("{value}"),
    }
}

/// Reports a failed command (stderr, and stdout as `--json` or a refusal asks) and picks its
/// exit code.
pub fn report_failure(error: &anyhow::Error, json_mode: bool) -> ExitCode {
    if let Some(refused) = error.downcast_ref::<Refused>() {
        println!("{}", refused.problem);
        eprintln!("sealpost: {refused}");
        return ExitCode::FAILURE;
    }
    if json_mode && error.downcast_ref::<FailedAfterResult>().is_none() {
        println!("{}", json!({ "error": format!("{error:#}") }));
    }
    eprintln!("sealpost: {error:#}");
    if error.downcast_ref::<UsageError>().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
