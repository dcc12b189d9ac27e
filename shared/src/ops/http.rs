//! The ops middleware every service wraps (one `.wrap(from_fn(ops.middleware()))` line each):
//! it answers the probes ([`super::health`]) before anything inside it runs, and counts every
//! other request into the instance's [`Metrics`]: status, latency, bytes in and out, by route
//! template.
//!
//! Where it sits: outside the access log (so probes are never audited), authentication and
//! rate limits; on the API inside the signing middleware, so probe answers are signed like
//! every other API answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, HttpResponseBuilder};
use prometheus::IntCounter;

use super::health::{HEALTHZ, READYZ, Readiness};
use super::metrics::Metrics;

/// The route label of a request no resource matched (404s, scanners): one fixed value, so
/// random paths cannot grow the label set.
pub const UNMATCHED: &str = "unmatched";

/// One service's probes and metrics; clone it freely.
#[derive(Clone, Debug)]
pub struct Ops {
    /// The `service` label: `api`, `gateway` or `vault`.
    pub service: &'static str,
    pub metrics: Metrics,
    pub readiness: Readiness,
}

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>>>;

impl Ops {
    pub fn new(service: &'static str, metrics: Metrics, readiness: Readiness) -> Self {
        Self {
            service,
            metrics,
            readiness,
        }
    }

    /// The middleware function, for `actix_web::middleware::from_fn`.
    pub fn middleware<B>(&self) -> impl Fn(ServiceRequest, Next<B>) -> Answer + Clone + use<B>
    where
        B: MessageBody + 'static,
    {
        let ops = self.clone();
        move |request, next| Box::pin(around(ops.clone(), request, next))
    }
}

/// The label of a request's route: the template that matched (`/documents/{doc_id}`), the
/// probe paths as they are, else [`UNMATCHED`]. Never the raw path.
pub fn route_label(pattern: Option<String>) -> String {
    match pattern {
        Some(pattern) if !pattern.is_empty() => pattern,
        _ => UNMATCHED.to_owned(),
    }
}

/// The method label: the standard methods, anything else `other`.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 8] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or("other")
}

async fn around<B>(
    ops: Ops,
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error>
where
    B: MessageBody + 'static,
{
    let probe = matches!(*request.method(), Method::GET | Method::HEAD)
        && matches!(request.path(), HEALTHZ | READYZ);
    if probe {
        return Ok(answer_probe(&ops, request).await);
    }
    let started = Instant::now();
    let route = route_label(request.match_pattern());
    let method = method_label(request.method());
    let declared = (request.headers().get(header::CONTENT_LENGTH))
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    ops.metrics.bytes_in(ops.service, declared.unwrap_or(0));
    let result = next.call(request).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let secs = started.elapsed().as_secs_f64();
    (ops.metrics).request(ops.service, &route, method, status.as_u16(), secs);
    let counter = ops.metrics.bytes_out(ops.service);
    result.map(|response| {
        (response.map_into_boxed_body()).map_body(|_, body| Counted { body, counter }.boxed())
    })
}

/// `/healthz` (200) or `/readyz` (200, or 503 naming the failing checks), as JSON; counted
/// under its own path like any route.
async fn answer_probe(ops: &Ops, request: ServiceRequest) -> ServiceResponse<BoxBody> {
    let started = Instant::now();
    let path = request.path().to_owned();
    let response = if path == HEALTHZ {
        probe_response(actix_web::http::StatusCode::OK).json(serde_json::json!({"status": "ok"}))
    } else {
        let report = ops.readiness.run().await;
        let status = if report.ready() {
            actix_web::http::StatusCode::OK
        } else {
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        };
        probe_response(status).json(report)
    };
    let method = method_label(request.method());
    let secs = started.elapsed().as_secs_f64();
    (ops.metrics).request(ops.service, &path, method, response.status().as_u16(), secs);
    request.into_response(response)
}

fn probe_response(status: actix_web::http::StatusCode) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// A response body that adds its bytes to a counter as they are sent.
struct Counted {
    body: BoxBody,
    counter: IntCounter,
}

impl MessageBody for Counted {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.counter.inc_by(chunk.len() as u64);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_or_one_fixed_word() {
        let template = Some("/documents/{doc_id}".to_owned());
        assert_eq!(route_label(template), "/documents/{doc_id}");
        assert_eq!(route_label(None), UNMATCHED);
        assert_eq!(route_label(Some(String::new())), UNMATCHED);
    }

    #[test]
    fn methods_are_a_closed_set() {
        assert_eq!(method_label(&Method::POST), "POST");
        let odd = Method::from_bytes(b"BREW").unwrap_or(Method::GET);
        assert_eq!(method_label(&odd), "other");
    }
}
