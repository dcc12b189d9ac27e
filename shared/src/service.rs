//! One start/stop shape for every service: what each service's `start` returns
//! (`api_server::startup::start`, `gateway::startup::start`, `vault::standalone::start` and
//! `vault::standalone::serve`), what `sealpost up` joins into one, and what tests stop.
//!
//! A [`Running`] holds the address its server listens on, the server (already spawned), the
//! background tasks the service started (sweepers) and the writers to drain once no request
//! is left (audit logs). [`Running::stop`] ends them in the one order that loses no audit
//! record:
//! 1. **Sweepers aborted.** No request waits on them; the next start sweeps again.
//! 2. **Servers stopped gracefully**: no new connection, in-flight requests finish, each
//!    waiting for its own fail-closed audit record as usual.
//! 3. **Drains, in the order added**: the audit writers write what is still queued — records
//!    of requests dropped mid-way (queued without waiting) and the vault's batched access log.
//!    Only now, because until the servers stopped a request could still queue a record.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;

use actix_web::dev::{Server, ServerHandle};
use anyhow::Context as _;
use tokio::task::JoinHandle;

/// What to finish after the servers stopped; the future is made only then.
type Drain = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A started service (or several, [joined](Running::join)), until [`stop`](Running::stop).
#[must_use = "a service runs until it is stopped"]
pub struct Running {
    /// The address the service listens on (port 0 resolved); for joined services, the first's.
    pub addr: SocketAddr,
    servers: Vec<(ServerHandle, JoinHandle<std::io::Result<()>>)>,
    sweepers: Vec<JoinHandle<()>>,
    drains: Vec<Drain>,
}

impl Running {
    /// Spawns `server`, which listens on `addr`, on the current tokio runtime.
    pub fn serve(addr: SocketAddr, server: Server) -> Self {
        let handle = server.handle();
        Self {
            addr,
            servers: vec![(handle, tokio::spawn(server))],
            sweepers: Vec::new(),
            drains: Vec::new(),
        }
    }

    /// Adds background tasks that run until the service stops (aborted first).
    pub fn with_sweepers(mut self, sweepers: impl IntoIterator<Item = JoinHandle<()>>) -> Self {
        self.sweepers.extend(sweepers);
        self
    }

    /// Adds a writer to drain once the servers stopped (drains run in the order added).
    pub fn with_drain<F, Fut>(mut self, drain: F) -> Self
    where
        F: FnOnce() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.drains.push(Box::new(move || Box::pin(drain())));
        self
    }

    /// One value for several services, stopped together; `other`'s address is not kept.
    pub fn join(mut self, other: Running) -> Self {
        self.servers.extend(other.servers);
        self.sweepers.extend(other.sweepers);
        self.drains.extend(other.drains);
        self
    }

    /// Aborts the sweepers, stops the servers (in-flight requests finish), then drains the
    /// writers: the module's order, which loses no audit record.
    pub async fn stop(self) {
        for sweeper in &self.sweepers {
            sweeper.abort();
        }
        for (handle, _) in &self.servers {
            handle.stop(true).await;
        }
        for (_, task) in self.servers {
            let _ = task.await;
        }
        for drain in self.drains {
            drain().await;
        }
    }

    /// Runs until SIGINT or SIGTERM ([`crate::server::shutdown_signal`]), then stops.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        crate::server::shutdown_signal().await?;
        tracing::info!("shutting down");
        self.stop().await;
        Ok(())
    }
}

/// Binds `addr` (port 0 picks a free port), naming the address when it fails.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("binding {addr}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpServer, web};

    use super::*;

    fn server() -> (SocketAddr, Server) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(|| App::new().route("/", web::get().to(|| async { "ok" })))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        (addr, server)
    }

    #[tokio::test]
    async fn stop_aborts_sweepers_stops_servers_then_drains_in_order() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let sweeper = tokio::spawn(std::future::pending::<()>());
        let (addr, first) = server();
        let (second_addr, second) = server();
        let note = |n: u32| {
            let order = order.clone();
            move || async move { order.lock().unwrap().push(n) }
        };
        let running = Running::serve(addr, first)
            .with_sweepers([sweeper])
            .with_drain(note(1))
            .join(Running::serve(second_addr, second).with_drain(note(2)));
        let body = reqwest::get(format!("http://{addr}/")).await.unwrap();
        assert_eq!(body.text().await.unwrap(), "ok");
        running.stop().await;
        assert_eq!(*order.lock().unwrap(), [1, 2]);
        assert!(reqwest::get(format!("http://{addr}/")).await.is_err());
    }
}
