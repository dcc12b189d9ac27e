//! The API access log (DESIGN.md, "Audit logs"): one record for every request that reaches the
//! app — successes, refusals, failed logins, junk paths and 405s alike — with DESIGN.md's ten
//! API columns: `docId end-time start-time remote-IP method request-URI HTTP-status hit-number
//! publisher-id operator-email`.
//!
//! # Fail closed: what is guaranteed
//! Records are committed through one group-commit writer ([`shared::group_commit::GroupCommit`]);
//! a request waits for the transaction that holds its record.
//!
//! 1. **No response without its record.** A response leaves only once the request's final
//!    record (with its status) is committed. When it cannot be written the client gets 503
//!    `application/problem+json` instead of the handler's response (for `GET …/document` the
//!    content is never sent: the record is committed before the first byte).
//! 2. **No effect without a prior record.** A request that can change state (`POST`, `PUT`,
//!    `DELETE`, `PATCH`; any method but `GET`, `HEAD`, `OPTIONS` and `TRACE`) first commits an *intent* record: the same columns with end-time,
//!    HTTP-status, hit-number, publisher-id and email `-` (the handler has not run yet, so
//!    the document and the caller are not known), and its start-time, remote-IP, method and
//!    request-URI equal to those of the final record, which identifies the pair. Only then is
//!    the handler called; when the intent cannot be written the answer is 503 and the handler
//!    never runs: nothing is read from the body, nothing is stored, changed or deleted.
//! 3. What is *not* guaranteed: a handler's effects are not undone when the final record then
//!    fails (the client gets 503, but the change may have happened). Such a request is the one
//!    case an intent has no final record: an intent without its final record means "outcome
//!    unknown, may have taken effect". `GET`/`HEAD` write no intent (they change nothing).
//!    The 503 answers of the audit itself cannot be recorded (the log is what failed).
//!    Requests actix-web's HTTP parser rejects before routing never reach the app. A request
//!    abandoned before its response (the client went away, or the server stopped) is recorded
//!    with status `499`, queued without waiting (best effort: it is lost if the store fails).
//!
//! # Columns
//! - docId: the caller's document the request named (found for the authenticated producer,
//!   expired ones included, or the one a `POST /documents` created); `-` otherwise.
//! - end-time, start-time: RFC 3339 UTC with milliseconds.
//! - remote-IP: the TCP peer (forwarding headers are not trusted).
//! - request-URI: the path as sent, with any segment over 64 bytes replaced by `<redacted>`,
//!   then the query, whose `lastModified`, `limit`, `after`, `start_date` and `end_date`
//!   parameters (names as sent, unescaped) are kept as sent, values up to 64 bytes; any other
//!   parameter's value (or the whole parameter, when its name is not a plain word) is
//!   `<redacted>`. Bounded to 512 bytes
//!   of path and 512 of query. Headers (`Authorization`) and bodies are never logged.
//! - hit-number: that document's records in this log, from 1 (assigned by the repository).
//! - publisher-id: the producer, only when it authenticated (a token, or a successful login).
//! - operator-email: the email of the caller's login session (for `POST /login`, the one just
//!   logged in); `-` when not authenticated.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};
use chrono::{DateTime, Utc};
use schema::{ApiLogRecord, DocumentId, LogRepo, ProducerId};
use shared::Problem;
use shared::group_commit::GroupCommit;

/// Longest path kept, and longest query, in bytes.
const MAX_PATH: usize = 512;
const MAX_QUERY: usize = 512;
/// Longer path segments and query values are redacted (tokens, keys, seals are longer).
const MAX_SEGMENT: usize = 64;
/// Longest method kept.
const MAX_METHOD: usize = 32;
/// The query parameters the API reads; none carries a secret.
const KEPT_PARAMETERS: [&str; 5] = ["lastModified", "limit", "after", "start_date", "end_date"];
/// The status of a request abandoned before its response (nginx's "client closed request").
const ABANDONED: u16 = 499;
const REDACTED: &str = "<redacted>";

/// The API's group-commit writer; clone it freely.
#[derive(Clone, Debug)]
pub struct ApiAudit {
    writer: GroupCommit<ApiLogRecord>,
}

impl ApiAudit {
    /// Starts the writer on the current tokio runtime. It ends when every clone is gone, after
    /// writing what was queued.
    pub fn spawn(repo: Arc<dyn LogRepo>) -> Self {
        Self::spawn_metered(repo, shared::ops::Metrics::default())
    }

    /// [`spawn`](Self::spawn), counting records written and failed into `metrics`.
    pub fn spawn_metered(repo: Arc<dyn LogRepo>, metrics: shared::ops::Metrics) -> Self {
        let append = move |records: Vec<ApiLogRecord>| {
            let repo = repo.clone();
            async move { repo.append_api_log(&records).await.map(drop) }
        };
        let writer = GroupCommit::spawn_metered("api", metrics, true, append);
        Self { writer }
    }

    /// Whether the writer still takes records (the readiness probe).
    pub fn is_alive(&self) -> bool {
        self.writer.is_alive()
    }

    /// Queues `record` and waits for its commit; `false` when it could not be written.
    pub async fn write(&self, record: ApiLogRecord) -> bool {
        self.writer.write(record).await
    }

    /// Returns once every record queued so far is written: called at shutdown, after the
    /// server stopped ([`shared::service`]).
    pub async fn flush(&self) {
        self.writer.flush().await;
    }
}

/// What the request revealed about its caller and document, as handlers learn it.
#[derive(Debug, Clone, Default)]
struct Facts {
    producer: Option<ProducerId>,
    operator: Option<String>,
    document: Option<DocumentId>,
}

/// Where handlers note what the record needs; the middleware puts one in each request's
/// extensions and the [`crate::auth::Principal`] extractor carries it on.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Facts>>);

impl Recorder {
    /// The request's recorder (a detached one when the request is not being logged, as in
    /// unit tests of handlers).
    pub fn of(request: &HttpRequest) -> Self {
        request
            .extensions()
            .get::<Recorder>()
            .cloned()
            .unwrap_or_default()
    }

    /// The producer authenticated, through the operator's login session.
    pub fn authenticated(&self, producer: &ProducerId, operator: &str) {
        let mut facts = self.lock();
        facts.producer = Some(producer.clone());
        facts.operator = Some(operator.to_owned());
    }

    /// The request named (or created) the authenticated producer's document `id`.
    pub fn document(&self, id: &DocumentId) {
        self.lock().document = Some(id.clone());
    }

    fn facts(&self) -> Facts {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Facts> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What is known when the request arrives.
#[derive(Debug, Clone)]
struct Arrival {
    start: DateTime<Utc>,
    remote: Option<IpAddr>,
    method: String,
    uri: String,
}

impl Arrival {
    fn of(request: &ServiceRequest) -> Self {
        let method = request.method().as_str();
        Self {
            start: Utc::now(),
            // The peer, or what trusted proxies say (the allowlist's rule).
            remote: crate::auth::client::address_of(request.request()),
            method: truncate(method, MAX_METHOD).to_owned(),
            uri: logged_uri(request.path(), request.query_string()),
        }
    }

    /// The intent record: written before the handler runs.
    fn intent(&self) -> ApiLogRecord {
        ApiLogRecord {
            producer_id: None,
            document_id: None,
            time: self.start,
            head: self.head(None, None, None),
            tail: "-".to_owned(),
        }
    }

    /// The final record, with what the handler learned.
    fn outcome(&self, facts: &Facts, status: u16, end: DateTime<Utc>) -> ApiLogRecord {
        let producer = facts.producer.clone();
        let document = facts.document.clone().filter(|_| producer.is_some());
        let operator = facts.operator.as_deref().filter(|_| producer.is_some());
        ApiLogRecord {
            head: self.head(document.as_ref(), Some(end), Some(status)),
            tail: shared::logline::join_columns(&[operator]),
            producer_id: producer,
            document_id: document,
            time: end,
        }
    }

    /// The first seven columns; the repository adds hit-number and publisher-id, then the tail.
    fn head(
        &self,
        document: Option<&DocumentId>,
        end: Option<DateTime<Utc>>,
        status: Option<u16>,
    ) -> String {
        shared::logline::RequestHead {
            document: document.map(DocumentId::as_str),
            start: self.start,
            end,
            remote: self.remote,
            method: &self.method,
            uri: &self.uri,
            status,
        }
        .line()
    }
}

/// Whether a request of `method` may change state, so its handler waits for an intent record.
pub fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The request-URI column (see the module documentation).
pub fn logged_uri(path: &str, query: &str) -> String {
    let mut uri = String::with_capacity(path.len() + query.len() + 1);
    let path: Vec<Cow<'_, str>> = path
        .split('/')
        .map(|segment| {
            if segment.len() > MAX_SEGMENT {
                Cow::Borrowed(REDACTED)
            } else {
                Cow::Borrowed(segment)
            }
        })
        .collect();
    uri.push_str(truncate(&path.join("/"), MAX_PATH));
    if !query.is_empty() {
        let kept: Vec<Cow<'_, str>> = query.split('&').map(logged_parameter).collect();
        uri.push('?');
        uri.push_str(truncate(&kept.join("&"), MAX_QUERY));
    }
    uri
}

fn logged_parameter(pair: &str) -> Cow<'_, str> {
    if pair.is_empty() {
        return Cow::Borrowed(pair);
    }
    // Names are compared as sent: an escaped spelling of a kept name is redacted, which only
    // hides more.
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    if KEPT_PARAMETERS.contains(&name) && value.len() <= MAX_SEGMENT {
        Cow::Borrowed(pair)
    } else if !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Cow::Owned(format!("{name}={REDACTED}"))
    } else {
        Cow::Borrowed(REDACTED)
    }
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Writes a `499` record if the request is dropped before its final record was queued.
struct Abandoned {
    audit: ApiAudit,
    arrival: Arrival,
    recorder: Recorder,
    armed: bool,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if self.armed {
            let record = self
                .arrival
                .outcome(&self.recorder.facts(), ABANDONED, Utc::now());
            if !self.audit.writer.write_detached(record) {
                tracing::error!("the API log could not queue an abandoned request's record");
            }
        }
    }
}

/// 503 problem+json: the request's audit record could not be written.
#[derive(Debug, thiserror::Error)]
enum Unrecorded {
    /// Before the handler: it was not called.
    #[error("the request could not be recorded in the audit log; nothing was done, retry later")]
    Intent,
    /// After the handler: its response is withheld.
    #[error(
        "the request's outcome could not be recorded in the audit log, so its response is \
         withheld; a change it made may have taken effect"
    )]
    Outcome,
}

impl actix_web::ResponseError for Unrecorded {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        Problem::new(self.status_code(), self.to_string()).into_response()
    }
}

/// Wraps one request; install with `middleware::from_fn` (see [`crate::build`]).
pub async fn around<B>(
    audit: ApiAudit,
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error>
where
    B: MessageBody + 'static,
{
    let arrival = Arrival::of(&request);
    let recorder = Recorder::default();
    request.extensions_mut().insert(recorder.clone());
    let mut abandoned = Abandoned {
        audit: audit.clone(),
        arrival: arrival.clone(),
        recorder: recorder.clone(),
        armed: true,
    };
    if changes_state(request.method()) && !audit.write(arrival.intent()).await {
        abandoned.armed = false;
        return Ok(request.into_response(Unrecorded::Intent.error_response()));
    }
    // Handlers turn their errors into responses; an error reaching here still gets its record
    // (with the status actix-web will answer) and is passed on.
    let result = next.call(request).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let record = arrival.outcome(&recorder.facts(), status.as_u16(), Utc::now());
    abandoned.armed = false;
    let written = audit.write(record).await;
    match result {
        Ok(response) if written => Ok(response.map_into_boxed_body()),
        Ok(response) => {
            let (request, _) = response.into_parts();
            Ok(ServiceResponse::new(
                request,
                Unrecorded::Outcome.error_response(),
            ))
        }
        Err(error) if written => Err(error),
        Err(_) => Err(Unrecorded::Outcome.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uris_keep_paths_and_known_parameters_but_no_secrets() {
        assert_eq!(logged_uri("/documents", ""), "/documents");
        assert_eq!(
            logged_uri(
                "/documents/abc",
                "lastModified=Tue,%2015%20Nov%201994%2008:12:31%20GMT"
            ),
            "/documents/abc?lastModified=Tue,%2015%20Nov%201994%2008:12:31%20GMT"
        );
        assert_eq!(
            logged_uri("/documents", "limit=10&after=xyz&token=s3cret&&"),
            "/documents?limit=10&after=xyz&token=<redacted>&&"
        );
        assert_eq!(
            logged_uri("/x", "eyJhbGci.payload.sig&a%20b=c&start_date=2024-01-01"),
            "/x?<redacted>&<redacted>&start_date=2024-01-01"
        );
        let long = "k".repeat(65);
        assert_eq!(
            logged_uri(&format!("/junk/{long}/x"), &format!("after={long}")),
            "/junk/<redacted>/x?after=<redacted>"
        );
        assert_eq!(logged_uri(&"/é".repeat(400), "").len(), 511);
    }

    #[test]
    fn intent_and_outcome_columns() {
        let arrival = Arrival {
            start: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            remote: Some(IpAddr::from([127, 0, 0, 1])),
            method: "POST".into(),
            uri: "/documents".into(),
        };
        let intent = arrival.intent();
        assert_eq!(
            intent.head,
            "-\t-\t2023-11-14T22:13:20.123Z\t127.0.0.1\tPOST\t/documents\t-"
        );
        assert_eq!((intent.producer_id, intent.tail.as_str()), (None, "-"));
        let anonymous = arrival.outcome(&Facts::default(), 401, arrival.start);
        assert!(anonymous.head.ends_with("\t/documents\t401"));
        assert_eq!(anonymous.tail, "-");
        let producer = ProducerId::random();
        let document = DocumentId::random();
        let facts = Facts {
            producer: Some(producer.clone()),
            operator: Some("op\t@example.com".into()),
            document: Some(document.clone()),
        };
        let done = arrival.outcome(&facts, 201, arrival.start);
        assert!(done.head.starts_with(document.as_str()));
        assert_eq!(done.tail, "op\\t@example.com");
        assert_eq!(done.producer_id, Some(producer));
        assert_eq!(done.document_id, Some(document));
    }

    #[test]
    fn only_reads_skip_the_intent() {
        assert!(!changes_state(&Method::GET));
        assert!(!changes_state(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(changes_state(&method));
        }
        assert!(changes_state(&Method::from_bytes(b"FOO").unwrap()));
    }
}
