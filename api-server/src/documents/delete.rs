//! `DELETE /documents/{docId}{?lastModified}` and `DELETE /documents/{docId}/{part}`.

use chrono::{DateTime, Utc};
use schema::DocumentId;

use super::part::Part;
use super::{Outcome, WRITE_ATTEMPTS, find, write};
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Deletes the record and its wrapped data key in one transaction (the content is unreadable
/// from that moment: crypto-shredding), then removes the ciphertext. With `unmodified_since`,
/// a document modified after that date is left alone (304).
pub async fn delete(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    unmodified_since: Option<DateTime<Utc>>,
) -> Result<Outcome<()>, ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let current = find(context, principal, id).await?;
        if unmodified_since.is_some_and(|since| current.last_modified > since) {
            return Ok(Outcome::NotModified);
        }
        let deleted = context
            .repo
            .delete_document_if(
                &super::tenant(principal),
                &current.id,
                current.last_modified,
            )
            .await?;
        if let Some(record) = deleted {
            super::destroy_blob(context, &record.object_key).await;
            return Ok(Outcome::Done(()));
        }
    }
    Err(ApiError::Conflict(
        "the document is being modified concurrently; retry".into(),
    ))
}

/// Removes one sub-resource (sets it to null). Refused with 409 when the document's other
/// objects depend on it (e.g. a `field` challenge needs its `records` audience).
pub async fn delete_part(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    part: Part,
) -> Result<(), ApiError> {
    let outcome = write(context, principal, id, None, |record| {
        let mut next = record.clone();
        part.set(&mut next, None)?; // no object: nothing to parse, never fails
        Ok(next)
    })
    .await;
    match outcome {
        Ok(_) => Ok(()),
        Err(ApiError::Invalid { field, detail }) => Err(ApiError::Conflict(format!(
            "{} cannot be removed: {field}: {detail}",
            part.name()
        ))),
        Err(error) => Err(error),
    }
}

/// Expired documents, deleted by the sweep: the same destruction as `DELETE`.
pub(super) async fn delete_expired(
    context: &ApiContext,
    producer: &schema::ProducerId,
    id: &DocumentId,
) -> Result<(), ApiError> {
    if let Some(record) = context.repo.delete_document(producer, id).await? {
        super::destroy_blob(context, &record.object_key).await;
    }
    Ok(())
}
