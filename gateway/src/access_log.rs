//! The gateway access log (DESIGN.md, "Logs"): one record per request — document requests,
//! refusals, sealed links and junk paths alike — with the nine gateway columns.
//!
//! Fail closed: a response leaves only once its record is committed; when the record cannot be
//! written the client gets 503 instead, so no handle is ever issued unrecorded. Commits are
//! grouped ([`shared::group_commit`]): one writer task takes every record queued while the previous
//! transaction ran and commits them together, so the cost of a commit is shared by concurrent
//! requests.
//!
//! Viewer attribution (DESIGN.md, "The auditor's report"): a request that matched a record of
//! a `records` audience carries a [`GatewayView`] (the record's index, what the challenge
//! decided, the handle's nonce) to the writer with its record, and the repository writes it to
//! `gateway_views` in the same transaction as the log line; the line keeps its nine columns.
//! The decision reports the record and the challenge's verdict through [`attribute`] into a
//! task-local slot this middleware opens around each request ([`Attribution`]), so the
//! handlers' signatures stay as they are; a request without an audience leaves it empty and
//! writes nothing more than its line.

use std::cell::Cell;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use schema::views::{GatewayView, ViewOutcome};
use schema::{DocumentId, GatewayLogRecord, LogRepo, ProducerId};
use shared::group_commit::GroupCommit;
use shared::handle::Nonce;

use crate::pages;

/// Longest request path kept in a record, in bytes.
const MAX_PATH: usize = 512;

/// The gateway's group-commit writer ([`shared::group_commit::GroupCommit`]); clone it freely.
#[derive(Clone, Debug)]
pub struct AuditLog {
    writer: GroupCommit<Entry>,
}

/// One request's record and, when it matched an audience record, its attribution.
#[derive(Clone, Debug)]
pub struct Entry {
    pub record: GatewayLogRecord,
    pub view: Option<GatewayView>,
}

/// What the decision learned about the audience record a request matched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The record's index in the audience.
    pub record: Option<usize>,
    /// What the challenge decided (`None`: nothing was decided).
    pub verdict: Option<ViewOutcome>,
}

tokio::task_local! {
    /// The running request's [`Attribution`], opened by [`around`].
    static ATTRIBUTION: Cell<Attribution>;
}

/// Updates the running request's attribution; nothing outside a request (unit tests).
pub fn attribute(change: impl FnOnce(&mut Attribution)) {
    let _ = ATTRIBUTION.try_with(|slot| {
        let mut attribution = slot.get();
        change(&mut attribution);
        slot.set(attribution);
    });
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime. It ends when every sender is gone, after
    /// writing what was queued.
    pub fn spawn(repo: Arc<dyn LogRepo>) -> Self {
        Self::spawn_metered(repo, shared::ops::Metrics::default())
    }

    /// [`spawn`](Self::spawn), counting records written and failed into `metrics`.
    pub fn spawn_metered(repo: Arc<dyn LogRepo>, metrics: shared::ops::Metrics) -> Self {
        let append = move |entries: Vec<Entry>| {
            let repo = repo.clone();
            async move {
                let viewed = entries.iter().any(|entry| entry.view.is_some());
                let (records, views): (Vec<_>, Vec<_>) = (entries.into_iter())
                    .map(|entry| (entry.record, entry.view))
                    .unzip();
                match viewed {
                    true => repo.append_gateway_log_viewed(&records, &views).await,
                    false => repo.append_gateway_log(&records).await,
                }
                .map(drop)
            }
        };
        let writer = GroupCommit::spawn_metered("gateway", metrics, true, append);
        Self { writer }
    }

    /// Whether the writer still takes records (the readiness probe).
    pub fn is_alive(&self) -> bool {
        self.writer.is_alive()
    }

    /// Queues `record` and waits for its commit; `false` when it could not be written.
    pub async fn write(&self, record: GatewayLogRecord) -> bool {
        self.write_viewed(record, None).await
    }

    /// [`write`](Self::write), with the audience record the request matched.
    pub async fn write_viewed(&self, record: GatewayLogRecord, view: Option<GatewayView>) -> bool {
        self.writer.write(Entry { record, view }).await
    }

    /// Returns once every record queued so far is written: called at shutdown, after the
    /// server stopped ([`shared::service`]).
    pub async fn flush(&self) {
        self.writer.flush().await;
    }
}

/// What a handler learned about its request, left in the request's extensions for the record.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub document_id: Option<DocumentId>,
    pub producer_id: Option<ProducerId>,
    /// The nonce of the handle this request issued: the correlation id the vault's record of
    /// the download shows too (`/h/<redacted:NONCE>`).
    pub handle_nonce: Option<Nonce>,
}

/// The request URI the log keeps: the path only (the query carries viewer data), a sealed
/// link's seal replaced (it opens a document request), bounded in length.
pub fn logged_path(path: &str) -> String {
    let path = shared::server::traced_path(path);
    let mut end = path.len().min(MAX_PATH);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].to_owned()
}

/// The request-URI column: [`logged_path`], and when the request issued a handle,
/// ` -> /h/<redacted:NONCE>` after it — the vault's record of that handle's download shows the
/// same text, so one search joins a viewing across both logs. A request path cannot hold a
/// raw space, so the suffix can never be mistaken for part of the path.
pub fn logged_uri(path: &str, handle_nonce: Option<&Nonce>) -> String {
    let path = logged_path(path);
    match handle_nonce {
        Some(nonce) => format!("{path} -> /h/<redacted:{nonce}>"),
        None => path,
    }
}

/// The first seven columns; the repository adds hit-number and publisher-id.
pub fn head(
    facts: &Facts,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    remote: Option<IpAddr>,
    method: &str,
    path: &str,
    status: StatusCode,
) -> String {
    shared::logline::RequestHead {
        document: facts.document_id.as_ref().map(DocumentId::as_str),
        start,
        end: Some(end),
        remote,
        method,
        uri: &logged_uri(path, facts.handle_nonce.as_ref()),
        status: Some(status.as_u16()),
    }
    .line()
}

/// Wraps one request: call it through `App::wrap_fn`.
pub fn around<S, B>(
    log: AuditLog,
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let start = Utc::now();
    let remote = crate::GatewayService::client_address(request.request());
    let (method, path) = (request.method().to_string(), request.path().to_owned());
    let service_call = service.call(request);
    let call = ATTRIBUTION.scope(Cell::default(), async move {
        let response = service_call.await;
        (response, ATTRIBUTION.with(Cell::get))
    });
    async move {
        let (response, attribution) = call.await;
        let response = response?.map_into_boxed_body();
        let facts = response
            .request()
            .extensions()
            .get::<Facts>()
            .cloned()
            .unwrap_or_default();
        let (status, end) = (response.status(), Utc::now());
        let record = GatewayLogRecord {
            time: end,
            head: head(&facts, start, end, remote, &method, &path, status),
            producer_id: facts.producer_id.clone(),
            document_id: facts
                .document_id
                .clone()
                .filter(|_| facts.producer_id.is_some()),
        };
        let view = view_of(attribution, &facts, remote);
        if log.write_viewed(record, view).await {
            return Ok(response);
        }
        let status = StatusCode::SERVICE_UNAVAILABLE;
        let (request, _) = response.into_parts();
        let refused = pages::respond(status, pages::problem(status), None);
        Ok(ServiceResponse::new(request, refused))
    }
}

/// The attribution of a request that matched an audience record of a document.
fn view_of(attribution: Attribution, facts: &Facts, remote: Option<IpAddr>) -> Option<GatewayView> {
    let record = attribution.record?;
    facts.producer_id.as_ref()?;
    facts.document_id.as_ref()?;
    Some(GatewayView {
        record: i64::try_from(record).ok()?,
        outcome: attribution.verdict.unwrap_or(ViewOutcome::Opened),
        nonce: facts.handle_nonce.as_ref().map(ToString::to_string),
        address: remote.map(|address| address.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_minus_two_columns_without_query_or_seal() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap_or_default();
        let line = head(
            &Facts::default(),
            at,
            at,
            Some("127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))),
            "GET",
            "/l/secret-seal",
            StatusCode::NOT_FOUND,
        );
        assert_eq!(
            line,
            "-\t2023-11-14T22:13:20.123Z\t2023-11-14T22:13:20.123Z\t127.0.0.1\tGET\t/l/<redacted>\t404"
        );
        assert_eq!(logged_path(&"é".repeat(400)).len(), 512);
    }

    #[test]
    fn only_a_matched_record_of_a_document_is_attributed() {
        let nonce = Nonce([7; 16]);
        let facts = Facts {
            document_id: Some(DocumentId::random()),
            producer_id: Some(ProducerId::random()),
            handle_nonce: Some(nonce),
        };
        let remote = Some(IpAddr::from([192, 0, 2, 1]));
        let matched = Attribution {
            record: Some(4),
            verdict: Some(ViewOutcome::Passed),
        };
        let view = view_of(matched, &facts, remote);
        assert_eq!(
            view,
            Some(GatewayView {
                record: 4,
                outcome: ViewOutcome::Passed,
                nonce: Some(nonce.to_string()),
                address: Some("192.0.2.1".to_owned()),
            })
        );
        let undecided = Attribution {
            verdict: None,
            ..matched
        };
        let opened = view_of(undecided, &facts, None).map(|v| v.outcome);
        assert_eq!(opened, Some(ViewOutcome::Opened));
        assert_eq!(view_of(Attribution::default(), &facts, remote), None);
        assert_eq!(view_of(matched, &Facts::default(), remote), None);
    }

    #[test]
    fn a_request_that_issued_a_handle_names_its_nonce() {
        let nonce = Nonce([7; 16]);
        assert_eq!(
            logged_uri("/abc", Some(&nonce)),
            format!("/abc -> /h/<redacted:{nonce}>")
        );
        assert_eq!(logged_uri("/abc", None), "/abc");
    }
}
