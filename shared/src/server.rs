//! Helpers every HTTP server applies.

use std::any::Any;

use actix_web::dev::Extensions;

pub mod slow_clients;

/// `HttpServer::on_connect` hook turning Nagle's algorithm off: actix-web leaves it on, and
/// streamed responses then stall ~40 ms each (DESIGN.md, dependency notes).
pub fn disable_nagle(connection: &dyn Any, _extensions: &mut Extensions) {
    if let Some(stream) = crate::tls::tcp_stream(connection) {
        let _ = stream.set_nodelay(true);
    }
}

/// Worker count from settings: 0 means actix's default (one per core).
pub fn workers(configured: usize) -> usize {
    if configured == 0 {
        std::thread::available_parallelism().map_or(2, usize::from)
    } else {
        configured
    }
}

/// Request tracing under the redaction policy (see [`crate::telemetry`]): peer, method, path
/// (never the query string, where viewer tokens travel; a sealed link's seal or a handle
/// replaced by `<redacted>`), status and duration in ms.
pub fn request_trace() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%a %{method}xi %{path}xi %s %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .custom_request_replace("path", |req| trace_line_path(req.path()))
        .log_target("sealpost::http")
}

/// `path` as request tracing shows it: the secret segment of `/l/{sealed}` and `/h/{handle}`
/// replaced.
pub fn traced_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.get(..3) {
        Some(prefix @ ("/l/" | "/h/")) => format!("{prefix}<redacted>").into(),
        _ => path.into(),
    }
}

/// Path segments longer than this are redacted in request tracing (as in the API log: tokens,
/// keys and seals are longer; ids are shorter).
const MAX_TRACED_SEGMENT: usize = 64;

/// `path` as the request trace line shows it: [`traced_path`], and any segment over
/// [`MAX_TRACED_SEGMENT`] bytes replaced (a token sent in a junk path stays out of the log).
fn trace_line_path(path: &str) -> String {
    traced_path(path)
        .split('/')
        .map(|segment| {
            if segment.len() > MAX_TRACED_SEGMENT {
                "<redacted>"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM: every binary's cue for a graceful stop
/// (servers are built with `disable_signals`, so this is the only handler).
pub async fn shutdown_signal() -> anyhow::Result<()> {
    use anyhow::Context as _;
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::trace_line_path;

    #[test]
    fn long_segments_and_handles_are_redacted_in_trace_lines() {
        let token = "e".repeat(65);
        assert_eq!(
            trace_line_path(&format!("/junk/{token}/x")),
            "/junk/<redacted>/x"
        );
        assert_eq!(trace_line_path("/h/abc"), "/h/<redacted>");
        let id = "a".repeat(64);
        assert_eq!(
            trace_line_path(&format!("/documents/{id}")),
            format!("/documents/{id}")
        );
    }
}
