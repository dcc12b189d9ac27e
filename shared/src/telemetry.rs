//! Tracing set-up and the redaction policy.
//!
//! Redaction policy: spans and events carry ids, methods, paths without query strings, status
//! codes and durations (`duration_ms`). They never carry keys, PEM blocks, tokens, handles,
//! sealed links, passwords, `Authorization` headers, query strings (viewer tokens live there)
//! or document bytes. Handlers use `#[instrument(skip_all, fields(...))]` so nothing is
//! captured by accident; `server::request_trace` is the one way a request is described.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls are no-ops (tests start many instances).
///
/// `format` is JSON (one JSON object a line, for a log shipper) or plain text. Plain text is coloured only when stderr is a terminal: a log file or a pipe gets no
/// ANSI escape sequences. Redaction is the same in both formats: it is decided by what spans
/// and events record (above), not by the formatter.
pub fn init(format: &LogFormat, filter: &str) {
    use std::io::IsTerminal as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _already_set = if *format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// `error` and its `source()` chain on one line (`outer: inner: root`), for the one place that
/// logs a failure (a 5xx, a failed background write).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
