//! The gateway's rows (migrations 0003 and 0005) as records: the viewer's view of a document
//! (the challenge and the audience opened with the record cipher), the gateway's log line, and
//! pending OAuth sign-ins (their request sealed, and when one counts as expired). The
//! brute-force rules are in `crate::lockout`.

use chrono::{DateTime, Utc};

use crate::cipher::RecordCipher;
use crate::codec::{Columns, parsed, sealed_json, sealed_object};
use crate::model::{GatewayLogLine, GatewayLogRecord, OAuthPending, ViewerDocument};
use crate::objects::Typed;
use crate::repo::RepoError;

/// The columns [`viewer_document`] reads besides `has_audience`, which each dialect computes
/// as an integer 0/1 from the audience's type (never reading the audience itself).
macro_rules! viewer_document_columns {
    () => {
        "id, producer_id, placeholder_id, object_key, name, media_type, expiration, challenge, \
         landingpage, last_modified, access_version, environment"
    };
}
/// The columns [`oauth_pending`] reads, also the insertion order of `insert_oauth_pending`.
macro_rules! oauth_pending_columns {
    () => {
        "state_hash, document_id, request, pkce_verifier, nonce, expires_at"
    };
}
pub(crate) use {oauth_pending_columns, viewer_document_columns};

/// The gateway's view of a document; its challenge opened with `cipher`, it and the landing
/// page parsed (a stored one that no longer parses is [`RepoError::Corrupt`]).
pub(crate) fn viewer_document(
    row: &impl Columns,
    cipher: Option<&RecordCipher>,
) -> Result<ViewerDocument, RepoError> {
    let id: crate::ids::DocumentId = row.id("id")?;
    Ok(ViewerDocument {
        challenge: sealed_object(row, id.as_str(), cipher)?.map(Typed::into_value),
        id,
        producer_id: row.id("producer_id")?,
        placeholder_id: row.id("placeholder_id")?,
        object_key: row.id("object_key")?,
        name: row.text("name")?,
        media_type: row.text("media_type")?,
        expiration: row.time("expiration")?,
        has_audience: row.int("has_audience")? != 0,
        landingpage: parsed(row.json("landingpage")?)?.map(Typed::into_value),
        last_modified: row.time("last_modified")?,
        access_version: row.int("access_version")?,
        environment: crate::codec::environment(row)?,
    })
}

/// `(audience, last_modified)` of document `document`, the audience opened with `cipher`.
pub(crate) fn audience(
    row: &impl Columns,
    document: &str,
    cipher: Option<&RecordCipher>,
) -> Result<(Option<serde_json::Value>, DateTime<Utc>), RepoError> {
    Ok((
        sealed_json(row, "audience", document, cipher)?,
        row.time("last_modified")?,
    ))
}

pub(crate) fn gateway_log_line(row: &impl Columns) -> Result<GatewayLogLine, RepoError> {
    Ok(GatewayLogLine {
        producer_id: row.opt_id("producer_id")?,
        document_id: row.opt_id("document_id")?,
        time: row.time("time")?,
        hit: row.opt_int("hit")?,
        fields: row.text("fields")?,
    })
}

/// The stored line: the record's seven columns, then hit-number and publisher-id (`-` when
/// absent).
pub(crate) fn log_fields(record: &GatewayLogRecord, hit: Option<i64>) -> String {
    let hit = hit.map_or_else(|| "-".to_owned(), |hit| hit.to_string());
    let producer = record.producer_id.as_ref().map_or("-", |id| id.as_str());
    format!("{}\t{hit}\t{producer}", record.head)
}

/// What a pending sign-in's sealed request is bound to (with the column name).
fn oauth_aad(state_hash: &str) -> String {
    format!("oauth_pending {state_hash}")
}

/// A pending sign-in's document request as stored: the JSON string of the request, sealed under
/// the record keys when held (its query holds the viewer-token values).
pub(crate) fn seal_oauth_request(
    pending: &OAuthPending,
    cipher: Option<&RecordCipher>,
) -> Result<Option<String>, RepoError> {
    let request = serde_json::Value::String(pending.request.clone());
    crate::codec::seal_value(
        cipher,
        &oauth_aad(&pending.state_hash),
        "request",
        Some(&request),
    )
}

/// A taken `oauth_pending` row, `None` when it had expired at `now` (an expiry at `now` is
/// expired, like a login session's).
pub(crate) fn unexpired_oauth_pending(
    row: &impl Columns,
    now: DateTime<Utc>,
    cipher: Option<&RecordCipher>,
) -> Result<Option<OAuthPending>, RepoError> {
    let state_hash = row.text("state_hash")?;
    // A row written before sealing holds the request itself (pending rows live minutes).
    let stored = row.text("request")?;
    let request = if crate::cipher::is_sealed(&stored) {
        match sealed_json(row, "request", &oauth_aad(&state_hash), cipher)? {
            Some(serde_json::Value::String(request)) => request,
            _ => return Err(RepoError::Corrupt("oauth_pending.request".into())),
        }
    } else {
        stored
    };
    let pending = OAuthPending {
        state_hash,
        document_id: row.id("document_id")?,
        request,
        pkce_verifier: row.text("pkce_verifier")?,
        nonce: row.text("nonce")?,
        expires_at: row.time("expires_at")?,
    };
    Ok((pending.expires_at > now).then_some(pending))
}
