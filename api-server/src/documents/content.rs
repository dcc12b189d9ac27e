//! `PUT /documents/{docId}/document{?lastModified}`: replace the content in place.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::{Outcome, write};
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Streams the new content into the vault, then swaps it into the record (same placeholder).
/// The old content is destroyed only after the record points at the new one; a refused or
/// failed swap destroys the new content instead.
pub async fn replace_content<S>(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    media_type: String,
    body: S,
    unmodified_since: Option<DateTime<Utc>>,
) -> Result<Outcome<()>, ApiError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    // Refuse early what would be refused after the upload anyway.
    let current = super::find(context, principal, id).await?;
    if unmodified_since.is_some_and(|since| current.last_modified > since) {
        return Ok(Outcome::NotModified);
    }
    let object = super::store_content(context, body).await?;
    let size = i64::try_from(object.size()).map_err(ApiError::internal)?;
    let outcome = write(context, principal, id, unmodified_since, |record| {
        let mut next = record.clone();
        next.object_key = object.key().clone();
        next.size = size;
        next.media_type = media_type.clone();
        // The algorithm stays the one returned at insertion (spec, Retrieve, footnote 1).
        next.hash_value = object.sha1_hex().to_owned();
        Ok(next)
    })
    .await;
    match outcome {
        Ok(Outcome::Done(written)) => {
            object.keep();
            super::destroy_content(context, &written.previous.object_key).await;
            Ok(Outcome::Done(()))
        }
        Ok(Outcome::NotModified) => {
            object.discard().await;
            Ok(Outcome::NotModified)
        }
        Err(error) => {
            object.discard().await;
            Err(error)
        }
    }
}
