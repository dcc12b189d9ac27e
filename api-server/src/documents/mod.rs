//! The document operations behind the routes.
//!
//! Every change to an existing record goes through [`write()`]: read the record, apply the
//! change, validate the whole result, and commit it with a compare-and-swap on
//! `last_modified`. Of two racing writers exactly one commits; the other re-reads and either
//! applies its change on top or, for a conditional request, answers 304.
//!
//! `last_modified` is a per-document version clock in whole seconds (the resolution of
//! HTTP-dates): every write moves it to `max(now, previous + 1 s)`, so a `?lastModified=` taken
//! from a `Last-Modified` header always names exactly one version.

mod content;
mod create;
mod delete;
mod expiry;
mod links;
mod list;
mod part;
mod signed;
mod update;
pub mod viewers;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use schema::objects::{self, Typed};
use schema::{DocumentId, DocumentRecord, Tenant};

pub use content::{normalise_media_type, replace_content};
pub use create::{create, parse_expiration};
pub use delete::{delete, delete_part};
pub use expiry::spawn_expiry_sweeper;
pub use links::{Link, links};
pub use list::list;
pub use part::Part;
pub use signed::store_content;
pub use update::{put_part, update};

use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// The only hash algorithm so far; fixed per document at insertion (spec, Retrieve, footnote 1).
pub const HASH_ALGORITHM: &str = "SHA-1";

/// How many times a write re-reads after losing a race before giving up with 409.
const WRITE_ATTEMPTS: usize = 16;

/// Whether a conditional request (`?lastModified=`) may proceed.
pub enum Outcome<T> {
    Done(T),
    /// The stored document was modified after the date given: nothing changed (304).
    NotModified,
}

pub fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(TimeDelta::seconds(1)).unwrap_or(time)
}

/// The next value of a document's version clock.
fn next_last_modified(previous: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    whole_seconds(now).max(whole_seconds(previous) + TimeDelta::seconds(1))
}

/// Whose documents the caller sees: its producer's, in its credential's environment.
pub fn tenant(principal: &Principal) -> Tenant {
    Tenant::new(principal.producer.clone(), principal.environment)
}

/// The caller's live document. Malformed, unknown and other producers' ids are 404, and so are
/// the ids of the producer's other environment (DESIGN: a test credential never sees a live
/// document, nor the reverse); an expired document is 410 at once, before the sweep removes it.
/// The document found (expired or not) is noted as the request's docId for the access log.
pub async fn find(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
) -> Result<DocumentRecord, ApiError> {
    let id = DocumentId::parse(id).map_err(|_| ApiError::NotFound)?;
    let record = context
        .repo
        .document(&tenant(principal), &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    principal.audit.document(&record.id);
    if record.expiration <= Utc::now() {
        return Err(ApiError::Gone(format!(
            "the document expired at {}",
            crate::representation::rfc3339(record.expiration)
        )));
    }
    Ok(record)
}

/// The spec's cross-object rules over the record's whole state (422 naming the field); each
/// object was parsed already, when it was set ([`Part::set`]) or read.
pub fn validate_objects(record: &DocumentRecord) -> Result<(), ApiError> {
    check_sensitivity(record)?;
    objects::check_rules(
        record.audience.as_ref().map(Typed::value),
        record.challenge.as_ref().map(Typed::value),
        record.landingpage.as_ref().map(Typed::value),
    )
    .map_err(|error| ApiError::Invalid {
        field: error.field,
        detail: error.detail,
    })
}

/// A document its metadata labels top-secret (`"sensitivity": "top-secret"`, DESIGN.md
/// "Top-secret documents") must be content its producer encrypted, of media type
/// `application/vnd.sealpost.e2e`: a plaintext under that label would be held and served by a
/// server its producer meant never to see it. 422 naming `metadata.sensitivity`, checked on
/// every write (create, update, a new metadata part, new content), so nothing is stored.
/// The e2e media type without the label is accepted: the content is ciphertext either way.
fn check_sensitivity(record: &DocumentRecord) -> Result<(), ApiError> {
    let label = record
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.get("sensitivity"))
        .and_then(serde_json::Value::as_str);
    let top_secret = label.is_some_and(|label| label.eq_ignore_ascii_case("top-secret"));
    let essence = record
        .media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if top_secret && !essence.eq_ignore_ascii_case(shared::e2e::MEDIA_TYPE) {
        return Err(ApiError::invalid(
            "metadata.sensitivity",
            format!(
                "a top-secret document is encrypted by its producer: media type {} \
                 (sealpost upload --top-secret), not {essence}",
                shared::e2e::MEDIA_TYPE
            ),
        ));
    }
    Ok(())
}

/// A committed write: the record before and after.
pub struct Written {
    pub previous: DocumentRecord,
    pub record: DocumentRecord,
}

/// Applies `change` to the current record and commits it with compare-and-swap (see the module
/// documentation). With `unmodified_since`, a record modified after that date is left alone.
pub async fn write(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    unmodified_since: Option<DateTime<Utc>>,
    change: impl Fn(&DocumentRecord) -> Result<DocumentRecord, ApiError>,
) -> Result<Outcome<Written>, ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let current = find(context, principal, id).await?;
        if unmodified_since.is_some_and(|since| current.last_modified > since) {
            return Ok(Outcome::NotModified);
        }
        let mut next = change(&current)?;
        next.last_modified = next_last_modified(current.last_modified, Utc::now());
        // Committed by the same compare-and-swap, so two racing writers cannot share a version.
        next.access_version = part::next_access_version(&current, &next);
        validate_objects(&next)?;
        if context
            .repo
            .replace_document(&next, current.last_modified)
            .await?
        {
            return Ok(Outcome::Done(Written {
                previous: current,
                record: next,
            }));
        }
    }
    Err(ApiError::Conflict(
        "the document is being modified concurrently; retry".into(),
    ))
}

/// Destroys a replaced object: its wrapped data key first, then the ciphertext. A failure is
/// logged and left to the start-up sweep (the object is unreferenced already).
async fn destroy_content(context: &ApiContext, key: &schema::ObjectKey) {
    if let Err(error) = context.vault.delete(key).await {
        tracing::warn!(error = %error, "replaced content left for the sweep");
    }
}

/// Removes ciphertext whose data key is already gone (deleted with its record).
async fn destroy_blob(context: &ApiContext, key: &schema::ObjectKey) {
    if let Err(error) = context.vault.delete_blob(key).await {
        // The key is gone, so the ciphertext is already unreadable; the start-up sweep removes it.
        tracing::warn!(error = %error, "ciphertext left for the sweep");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_version_clock_always_advances_a_whole_second() {
        let t = DateTime::parse_from_rfc3339("2030-01-01T00:00:00.700Z")
            .unwrap()
            .to_utc();
        let later = DateTime::parse_from_rfc3339("2030-01-01T00:00:09.200Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            next_last_modified(t, t),
            whole_seconds(t) + TimeDelta::seconds(1)
        );
        assert_eq!(next_last_modified(t, later), whole_seconds(later));
    }
}
