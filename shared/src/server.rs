//! Helpers every HTTP server applies.

use std::any::Any;

use actix_web::dev::Extensions;

/// `HttpServer::on_connect` hook turning Nagle's algorithm off: actix-web leaves it on, and
/// streamed responses then stall ~40 ms each (DESIGN.md, dependency notes).
pub fn disable_nagle(connection: &dyn Any, _extensions: &mut Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
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
/// (never the query string, where viewer tokens travel), status and duration in ms.
pub fn request_trace() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%a %{method}xi %U %s %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .log_target("sealpost::http")
}

/// A server answering every request with 404 problem+json: the face of a service whose routes
/// have not landed yet, so nothing is learned from probing it.
pub fn not_found_only(
    listener: std::net::TcpListener,
    worker_count: usize,
    detail: &'static str,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_web::{App, HttpServer, http::StatusCode, web};
    let server = HttpServer::new(move || {
        App::new()
            .wrap(request_trace())
            .default_service(web::to(move || async move {
                crate::Problem::new(StatusCode::NOT_FOUND, detail).into_response()
            }))
    })
    .on_connect(disable_nagle)
    .workers(workers(worker_count))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
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
