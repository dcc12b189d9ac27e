//! Defences against slow and greedy clients (issue 14, finding 5): request heads, request
//! bodies and connections are bounded on every service, from [`ServerSettings`].
//!
//! - **Heads.** actix-web's `client_request_timeout` bounds the first head of a connection
//!   only; a kept-alive connection whose next head trickles in would stay open for ever. A
//!   per-connection watchdog closes a connection that has had no request in flight for
//!   `keep_alive + header_timeout` (an idle one is closed by actix's keep-alive before that).
//! - **Bodies.** [`guard_request`] wraps every request body: a body that sends nothing for
//!   `body_idle_timeout` is cut, and any body other than a document upload must arrive whole
//!   within `small_body_timeout`. The answer is 408 problem+json, and the connection closes.
//!   Document bodies have no total timeout, so a slow but honest upload of many gigabytes
//!   completes as long as it keeps sending.
//! - **Connections.** `max_connections` per worker (actix stops accepting beyond), and
//!   `max_connections_per_address`: a connection beyond an address's cap is shut at once, so
//!   one address cannot take the service from the others.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Shutdown};
use std::os::fd::AsFd as _;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use crate::Problem;
use crate::config::ServerSettings;

/// The limits of one service, built once from settings; cheap to clone into each worker.
#[derive(Clone)]
pub struct ClientLimits {
    header_timeout: Duration,
    keep_alive: Duration,
    bodies: BodyLimits,
    max_connections: usize,
    per_address: usize,
    /// Open connections per client address, over all workers of the service.
    open: OpenCounts,
}

/// Open connections per client address.
type OpenCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// What [`guard_request`] enforces on request bodies (`None`: no such timeout).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    idle: Option<Duration>,
    small_total: Option<Duration>,
}

impl ClientLimits {
    pub fn new(settings: &ServerSettings) -> Self {
        let secs = |value: u64| (value > 0).then(|| Duration::from_secs(value));
        Self {
            header_timeout: Duration::from_secs(settings.header_timeout_secs),
            keep_alive: Duration::from_secs(settings.keep_alive_secs),
            bodies: BodyLimits {
                idle: secs(settings.body_idle_timeout_secs),
                small_total: secs(settings.small_body_timeout_secs),
            },
            max_connections: settings.max_connections.max(1),
            per_address: settings.max_connections_per_address,
            open: Arc::default(),
        }
    }

    /// For `HttpServer::client_request_timeout`: the first head of a connection (0: none).
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }

    /// For `HttpServer::keep_alive`.
    pub fn keep_alive(&self) -> actix_web::http::KeepAlive {
        if self.keep_alive.is_zero() {
            actix_web::http::KeepAlive::Disabled
        } else {
            actix_web::http::KeepAlive::Timeout(self.keep_alive)
        }
    }

    /// For `HttpServer::max_connections` (per worker).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// For [`guard_request`].
    pub fn bodies(&self) -> BodyLimits {
        self.bodies
    }

    /// The `HttpServer::on_connect` hook: Nagle off ([`super::disable_nagle`]), the address's
    /// cap, and the head watchdog.
    pub fn on_connect(&self) -> impl Fn(&dyn std::any::Any, &mut Extensions) + Send + Sync + use<> {
        let limits = self.clone();
        move |connection, extensions| limits.accept(connection, extensions)
    }

    fn accept(&self, connection: &dyn std::any::Any, extensions: &mut Extensions) {
        super::disable_nagle(connection, extensions);
        // Plain or TLS: the cap and the watchdog hold for HTTPS too.
        let Some(stream) = crate::tls::tcp_stream(connection) else {
            return;
        };
        let address = stream.peer_addr().ok().map(|peer| peer.ip().to_canonical());
        let counted = match address {
            Some(address) if self.per_address > 0 => {
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                let count = open.entry(address).or_insert(0);
                if *count >= self.per_address {
                    drop(open);
                    tracing::warn!(%address, "connection refused: too many from this address");
                    shut(stream);
                    return;
                }
                *count += 1;
                Some(address)
            }
            _ => None,
        };
        let connection = Arc::new(Watched {
            phase: Mutex::new(Phase {
                busy: 0,
                idle_since: Instant::now(),
            }),
            closed: Notify::new(),
        });
        let allowance = self.keep_alive + self.header_timeout;
        if !self.header_timeout.is_zero() {
            // Its own descriptor for the socket, so it can shut it; dropped with the watchdog,
            // which ends as soon as the connection does.
            if let Ok(socket) = stream
                .as_fd()
                .try_clone_to_owned()
                .map(std::net::TcpStream::from)
            {
                actix_web::rt::spawn(watch(connection.clone(), socket, allowance));
            }
        }
        extensions.insert(ConnectionGuard {
            connection,
            counted: counted.map(|address| (self.open.clone(), address)),
        });
    }
}

/// Shuts a socket down both ways; the server then sees the end of the stream and drops it.
fn shut(stream: &actix_web::rt::net::TcpStream) {
    if let Ok(owned) = stream.as_fd().try_clone_to_owned() {
        let _ = std::net::TcpStream::from(owned).shutdown(Shutdown::Both);
    }
}

/// One connection as the watchdog sees it.
struct Watched {
    phase: Mutex<Phase>,
    closed: Notify,
}

struct Phase {
    /// Requests in flight (head received, response not yet fully sent).
    busy: usize,
    /// When the last request ended (or the connection opened).
    idle_since: Instant,
}

impl Watched {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Lives in the connection's extensions: dropped when the connection ends, it releases the
/// address's slot and stops the watchdog.
struct ConnectionGuard {
    connection: Arc<Watched>,
    counted: Option<(OpenCounts, IpAddr)>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some((open, address)) = &self.counted {
            let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = open.get_mut(address) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(address);
                }
            }
        }
        self.connection.closed.notify_one();
    }
}

/// A request in flight on its connection, until its response body is sent (or dropped).
struct InFlight(Arc<Watched>);

impl InFlight {
    fn begin(connection: &Arc<Watched>) -> Self {
        connection.phase().busy += 1;
        Self(connection.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.busy = phase.busy.saturating_sub(1);
        if phase.busy == 0 {
            phase.idle_since = Instant::now();
        }
    }
}

/// Shuts the connection down once it has had no request in flight for `allowance`: a
/// kept-alive connection whose next head never completes.
async fn watch(connection: Arc<Watched>, socket: std::net::TcpStream, allowance: Duration) {
    loop {
        let wake = {
            let phase = connection.phase();
            if phase.busy > 0 {
                Instant::now() + allowance
            } else {
                phase.idle_since + allowance
            }
        };
        tokio::select! {
            () = connection.closed.notified() => return,
            () = tokio::time::sleep_until(wake) => {}
        }
        let stalled = {
            let phase = connection.phase();
            phase.busy == 0 && phase.idle_since.elapsed() >= allowance
        };
        if stalled {
            tracing::info!("connection closed: no complete request head in time");
            let _ = socket.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Middleware (`actix_web::middleware::from_fn`), innermost so the access logs record its
/// answer: bounds the request body (idle, and whole for anything but a document upload, as
/// `upload` says) and answers 408 problem+json when either is exceeded; marks the request in
/// flight for the head watchdog until its response is sent.
pub async fn guard_request(
    limits: BodyLimits,
    upload: fn(&ServiceRequest) -> bool,
    mut request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let in_flight = request
        .conn_data::<ConnectionGuard>()
        .map(|guard| InFlight::begin(&guard.connection));
    let deadline = if upload(&request) {
        None
    } else {
        limits.small_total.map(|total| Instant::now() + total)
    };
    let tripped = Rc::new(Cell::new(false));
    let (_, payload) = request.parts_mut();
    // A request without a body (most: every GET) has nothing to time.
    let has_body = !matches!(payload, Payload::None);
    if has_body && (limits.idle.is_some() || deadline.is_some()) {
        let inner = std::mem::replace(payload, Payload::None);
        *payload = Payload::Stream {
            payload: Box::pin(TimedBody {
                inner,
                idle: limits.idle,
                deadline,
                timer: None,
                armed: false,
                tripped: tripped.clone(),
            }),
        };
    }
    // The handler sees the body end in an error when a timeout fires, and answers at once;
    // whatever it answered is replaced by the 408.
    let mut response = next.call(request).await?;
    if tripped.get() {
        tracing::info!("request body timed out");
        let problem = Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        );
        let mut builder = problem.response_builder();
        builder.force_close();
        response = response.into_response(builder.json(problem));
    }
    Ok(response.map_body(|_, body| {
        BoxBody::new(MarkedBody {
            body,
            _in_flight: in_flight,
        })
    }))
}

/// A request body under the idle timeout and, when set, a deadline for the whole of it.
struct TimedBody {
    inner: Payload,
    idle: Option<Duration>,
    deadline: Option<Instant>,
    /// Made on the first wait (a body that is all there never needs one).
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether `timer` runs for the current wait (reset by every chunk).
    armed: bool,
    tripped: Rc<Cell<bool>>,
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.tripped.get() {
            return Poll::Ready(Some(Err(timed_out())));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                this.armed = false;
                let late = this
                    .deadline
                    .is_some_and(|deadline| Instant::now() >= deadline);
                if late && item.is_some() {
                    this.tripped.set(true);
                    return Poll::Ready(Some(Err(timed_out())));
                }
                Poll::Ready(item)
            }
            Poll::Pending => {
                if !this.armed {
                    let idle_end = this.idle.map(|idle| Instant::now() + idle);
                    let Some(until) = [idle_end, this.deadline].into_iter().flatten().min() else {
                        return Poll::Pending;
                    };
                    match &mut this.timer {
                        Some(timer) => timer.as_mut().reset(until),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(until))),
                    }
                    this.armed = true;
                }
                let fired = this
                    .timer
                    .as_mut()
                    .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                if fired {
                    this.tripped.set(true);
                    return Poll::Ready(Some(Err(timed_out())));
                }
                Poll::Pending
            }
        }
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the request body did not arrive in time",
    ))
}

/// A response body that keeps its request marked in flight until it is sent or dropped.
struct MarkedBody {
    body: BoxBody,
    _in_flight: Option<InFlight>,
}

impl MessageBody for MarkedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use futures_util::StreamExt as _;

    fn timed(inner: Payload, idle: u64, total: Option<u64>) -> (TimedBody, Rc<Cell<bool>>) {
        let tripped = Rc::new(Cell::new(false));
        let body = TimedBody {
            inner,
            idle: Some(Duration::from_millis(idle)),
            deadline: total.map(|total| Instant::now() + Duration::from_millis(total)),
            timer: None,
            armed: false,
            tripped: tripped.clone(),
        };
        (body, tripped)
    }

    fn trickle(every_ms: u64, chunks: usize) -> Payload {
        let stream = futures_util::stream::unfold(0, move |sent| async move {
            if sent == chunks {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(every_ms)).await;
            Some((Ok::<_, PayloadError>(Bytes::from_static(b"x")), sent + 1))
        });
        Payload::Stream {
            payload: Box::pin(stream),
        }
    }

    #[tokio::test]
    async fn a_body_that_keeps_sending_is_not_cut_by_the_idle_timeout() {
        let (mut body, tripped) = timed(trickle(100, 20), 1000, None);
        let mut received = 0;
        while let Some(chunk) = body.next().await {
            received += chunk.unwrap().len();
        }
        assert_eq!(received, 20);
        assert!(!tripped.get());
    }

    #[tokio::test]
    async fn a_silent_body_is_cut_after_the_idle_timeout() {
        let (mut body, tripped) = timed(trickle(5000, 5), 300, None);
        let started = Instant::now();
        assert!(body.next().await.unwrap().is_err());
        assert!(tripped.get());
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_small_body_must_arrive_whole_in_time() {
        let (mut body, tripped) = timed(trickle(50, 100), 1000, Some(500));
        let mut result = Ok(());
        while let Some(chunk) = body.next().await {
            if let Err(error) = chunk {
                result = Err(error);
                break;
            }
        }
        assert!(result.is_err());
        assert!(tripped.get());
    }
}
