//! The signed receipt of one audience record (`GET /documents/{docId}/views/{n}/receipt`):
//! the document (id, name, SHA-256 of its content), the record (index and viewer-token
//! fields), the challenge type, the delivery, every gateway request the record made (time,
//! outcome, handle nonce, address), the handles issued, every download (time, handle, status,
//! bytes sent, object size, complete), the bytes sent in all and `downloaded`: `"complete"`,
//! `"partial"` or `"never"`. Signed by the instance key as [`shared::receipt`] describes
//! (canonical JSON, Ed25519), so `sealpost receipt verify` checks it offline.

use chrono::Utc;
use schema::DocumentRecord;
use schema::objects::{Challenge, Scheme};
use schema::views::{DownloadEvent, RecordHistory, RecordOf, VisitEvent};
use serde_json::{Map, Value, json};

use super::render::time;
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// The receipt's `type`.
pub const RECEIPT_TYPE: &str = "sealpost-view-receipt-v1";

/// The signed receipt of record `n` of the caller's document `id`: 404 when the document is
/// not the caller's or has no record `n`.
pub async fn receipt(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    n: &str,
) -> Result<Value, ApiError> {
    let document = crate::documents::find(context, principal, id).await?;
    let (fields, viewers) = super::viewers(&document);
    let index: usize = n.parse().map_err(|_| ApiError::NotFound)?;
    let values = viewers.get(index).ok_or(ApiError::NotFound)?;
    let record = i64::try_from(index).map_err(|_| ApiError::NotFound)?;
    let of = RecordOf {
        document: &document.id,
        record,
    };
    let history = context.repo.record_history(of).await?;
    let sha256 = context
        .repo
        .object_signature(&document.object_key)
        .await?
        .map(|signature| signature.sha256);
    let viewer: Map<String, Value> = (fields.iter().zip(values))
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let body = body(&document, sha256, record, viewer, &history);
    shared::receipt::sign(context.signer.key(), body).map_err(ApiError::internal)
}

/// The receipt without its signature.
fn body(
    document: &DocumentRecord,
    sha256: Option<String>,
    record: i64,
    viewer: Map<String, Value>,
    history: &RecordHistory,
) -> Map<String, Value> {
    let handles: Vec<&str> = (history.visits.iter())
        .filter_map(|visit| visit.nonce.as_deref())
        .collect();
    let bytes: i64 = history.downloads.iter().map(|d| d.bytes_sent).sum();
    let downloaded = match &history.downloads {
        downloads if downloads.iter().any(|d| d.complete) => "complete",
        downloads if downloads.is_empty() => "never",
        _ => "partial",
    };
    let delivery = history.delivery.as_ref();
    let receipt = json!({
        "type": RECEIPT_TYPE,
        "issued": time(Utc::now()),
        "document": {"id": document.id.as_str(), "name": document.name, "sha256": sha256},
        "record": {"index": record, "viewer": viewer},
        "challenge": challenge_type(document),
        "delivered": delivery.map(|d| json!({"time": time(d.time), "status": d.status})),
        "visits": history.visits.iter().map(visit).collect::<Vec<_>>(),
        "handles": handles,
        "downloads": history.downloads.iter().map(download).collect::<Vec<_>>(),
        "bytesSent": bytes,
        "downloaded": downloaded,
    });
    match receipt {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `none`, `basic`, `digest` or `oauth`.
fn challenge_type(document: &DocumentRecord) -> &'static str {
    match document.challenge.as_ref().map(|c| c.value()) {
        None => "none",
        Some(Challenge::HttpAuth {
            scheme: Scheme::Basic,
            ..
        }) => "basic",
        Some(Challenge::HttpAuth {
            scheme: Scheme::Digest,
            ..
        }) => "digest",
        Some(Challenge::OAuth { .. }) => "oauth",
    }
}

fn visit(event: &VisitEvent) -> Value {
    json!({
        "time": time(event.time),
        "outcome": event.outcome.as_str(),
        "handle": event.nonce,
        "address": event.address,
    })
}

fn download(event: &DownloadEvent) -> Value {
    json!({
        "time": time(event.time),
        "handle": event.nonce,
        "status": event.status,
        "bytesSent": event.bytes_sent,
        "objectSize": event.object_size,
        "complete": event.complete,
    })
}
