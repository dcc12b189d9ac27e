//! The access-log middleware: one [`AccessRecord`] for every request that reaches the vault's
//! app — downloads, refused handles, junk paths and the internal API alike.
//!
//! The record is finished when the response body ends or is dropped, never when the handler
//! returns, so `bytes-sent` is what the connection actually took and `total-time-ms` covers the
//! whole transfer. This middleware also writes the request's tracing line (in place of
//! `shared::server::request_trace`, whose `%U` would log the handle).

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::HttpMessage as _;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use bytes::Bytes;
use chrono::Utc;
use schema::{DocumentId, ObjectKey, ProducerId};
use shared::handle::Nonce;

use super::handle::ViewError;
use super::redact;
use crate::access_log::{AccessLog, AccessRecord};

/// What a handler learned about its request, left in the request's extensions for the record.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The nonce of a handle whose signature verified: shown in the redacted request URI.
    pub nonce: Option<Nonce>,
    pub document_id: Option<DocumentId>,
    /// Set only when the document exists; scopes the record to its producer.
    pub producer_id: Option<ProducerId>,
    pub key: Option<ObjectKey>,
    pub object_size: Option<u64>,
}

/// The error a response body ends with; its code goes into the record's `error-code` column.
#[derive(Debug, thiserror::Error)]
#[error("response body failed: {code}")]
pub struct BodyFailure {
    pub code: &'static str,
}

/// Wraps one request: call it through `App::wrap_fn`.
pub fn around<S, B>(
    log: AccessLog,
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<LoggedBody>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let started = Instant::now();
    let mut record = arrival(&request);
    let (method, path) = (request.method().clone(), request.path().to_owned());
    let call = service.call(request);
    async move {
        let result = call.await;
        let (status, facts, error) = match &result {
            Ok(response) => (
                response.status(),
                response.request().extensions().get::<Facts>().cloned(),
                response.response().error().and_then(handler_code),
            ),
            Err(error) => (error.as_response_error().status_code(), None, None),
        };
        let facts = facts.unwrap_or_default();
        let path = redact::path(&path, facts.nonce.as_ref());
        let method = redact::text(method.as_str());
        record.request_uri = format!("\"{method} {path} {}\"", record.protocol);
        record.document_id = facts.document_id;
        record.producer_id = facts.producer_id;
        record.key = facts.key;
        record.object_size = facts.object_size;
        record.status = status.as_u16();
        record.error_code = error.or_else(|| status_code_name(status));
        let pending = Pending {
            log,
            record,
            started,
        };
        match result {
            Ok(response) => Ok(response.map_body(|_, body| LoggedBody {
                inner: body.boxed(),
                pending: Some(pending),
            })),
            Err(error) => {
                pending.finish();
                Err(error)
            }
        }
    }
}

/// The record as far as the request alone tells; the rest is filled in from the response.
fn arrival(request: &ServiceRequest) -> AccessRecord {
    let header_text = |name| {
        request
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let method = request.method();
    let is_object = (method == Method::GET || method == Method::HEAD)
        && request
            .path()
            .strip_prefix("/h/")
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
    let operation = if is_object {
        format!("REST.{method}.OBJECT")
    } else {
        format!("REST.{}.UNKNOWN", redact::text(method.as_str()))
    };
    AccessRecord {
        document_id: None,
        producer_id: None,
        time: Utc::now(),
        // The peer, or what trusted proxies say: the one rule of every log.
        remote_ip: match request.app_data::<actix_web::web::Data<super::VaultService>>() {
            Some(service) => service.clients.client_address(request.head()),
            None => request.peer_addr().map(|addr| addr.ip()),
        },
        operation,
        key: None,
        request_uri: String::new(),
        protocol: format!("{:?}", request.version()),
        status: 0,
        error_code: None,
        bytes_sent: 0,
        object_size: None,
        total_time_ms: 0,
        referer: header_text(header::REFERER).map(|value| redact::referer(&value)),
        user_agent: header_text(header::USER_AGENT).map(|value| redact::text(&value)),
    }
}

/// The code the handle endpoint chose for its error.
fn handler_code(error: &actix_web::Error) -> Option<&'static str> {
    error.as_error::<ViewError>().map(ViewError::code)
}

/// For answers from elsewhere than the handle endpoint (the internal API, actix itself).
fn status_code_name(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        0..400 => return None,
        401 | 403 => "AccessDenied",
        404 => "NoSuchKey",
        405 => "MethodNotAllowed",
        413 => "EntityTooLarge",
        416 => "InvalidRange",
        400..500 => "InvalidRequest",
        503 => "ServiceUnavailable",
        _ => "InternalError",
    })
}

/// A record waiting for its body to end.
struct Pending {
    log: AccessLog,
    record: AccessRecord,
    started: Instant,
}

impl Pending {
    fn finish(mut self) {
        let elapsed = self.started.elapsed();
        self.record.total_time_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let record = &self.record;
        tracing::info!(
            target: "sealpost::http",
            peer = record.remote_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            request = %record.request_uri,
            status = record.status,
            error_code = record.error_code.unwrap_or("-"),
            bytes_sent = record.bytes_sent,
            duration_ms = record.total_time_ms,
            "vault request"
        );
        self.log.record(self.record);
    }
}

/// A response body that counts the bytes taken from it and hands its record to the log when
/// it ends, fails or is dropped (the client went away).
pub struct LoggedBody {
    inner: BoxBody,
    pending: Option<Pending>,
}

impl LoggedBody {
    fn finish(&mut self, failure: Option<&'static str>) {
        if let Some(mut pending) = self.pending.take() {
            if failure.is_some() {
                pending.record.error_code = failure;
            }
            pending.finish();
        }
    }
}

impl MessageBody for LoggedBody {
    type Error = Box<dyn StdError>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(pending) = &mut this.pending {
                    pending.record.bytes_sent += chunk.len() as u64;
                }
            }
            Poll::Ready(Some(Err(error))) => {
                let code = error
                    .downcast_ref::<BodyFailure>()
                    .map_or("InternalError", |failure| failure.code);
                this.finish(Some(code));
            }
            Poll::Ready(None) => this.finish(None),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_without_a_handler_code_get_s3_names() {
        assert_eq!(status_code_name(StatusCode::OK), None);
        assert_eq!(status_code_name(StatusCode::PARTIAL_CONTENT), None);
        assert_eq!(
            status_code_name(StatusCode::UNAUTHORIZED),
            Some("AccessDenied")
        );
        assert_eq!(status_code_name(StatusCode::NOT_FOUND), Some("NoSuchKey"));
        assert_eq!(
            status_code_name(StatusCode::PAYLOAD_TOO_LARGE),
            Some("EntityTooLarge")
        );
        assert_eq!(
            status_code_name(StatusCode::INTERNAL_SERVER_ERROR),
            Some("InternalError")
        );
    }
}
