//! `POST /documents/{docId}` (update, new placeholder) and `PUT /documents/{docId}/{part}`.

use chrono::Utc;
use schema::objects;
use schema::{DocumentRecord, PlaceholderId};
use serde_json::Value;

use super::create::validate_name;
use super::part::{self, Part};
use super::{Outcome, parse_expiration, write};
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form::DocumentForm;

/// Any subset of the create parts; only those given change, and a new placeholder is issued
/// every time (the old one stops resolving). New content replaces the old, which is destroyed
/// once the record points at the new one.
pub async fn update(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    mut form: DocumentForm,
) -> Result<DocumentRecord, ApiError> {
    let result = apply(context, principal, id, &mut form).await;
    match result {
        Ok(record) => Ok(record),
        Err(error) => {
            form.discard().await;
            Err(error)
        }
    }
}

async fn apply(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    form: &mut DocumentForm,
) -> Result<DocumentRecord, ApiError> {
    let name = form.name.take();
    if let Some(name) = &name {
        validate_name(name)?;
    }
    let expiration = match form.expiration.take() {
        Some(text) => Some(parse_expiration(
            Some(&text),
            Utc::now(),
            context.limits.max_expiration_days,
        )?),
        None => None,
    };
    let parts = part::take_parts(form);
    let size = match &form.document {
        Some(document) => Some(i64::try_from(document.object.size()).map_err(ApiError::internal)?),
        None => None,
    };
    let document = form.document.as_ref();
    let outcome = write(context, principal, id, None, |record| {
        let mut next = record.clone();
        next.placeholder_id = PlaceholderId::random();
        if let Some(name) = &name {
            next.name.clone_from(name);
        }
        if let Some(expiration) = expiration {
            next.expiration = expiration;
        }
        Part::set_all(&mut next, &parts)?;
        if let (Some(document), Some(size)) = (document, size) {
            next.object_key = document.object.key().clone();
            next.size = size;
            next.media_type.clone_from(&document.media_type);
            next.hash_value = document.object.sha1_hex().to_owned();
        }
        Ok(next)
    })
    .await?;
    let Outcome::Done(written) = outcome else {
        return Err(ApiError::internal(
            "an unconditional write answered not-modified",
        ));
    };
    if let Some(document) = form.document.take() {
        document.object.keep();
        super::destroy_content(context, &written.previous.object_key).await;
    }
    Ok(written.record)
}

/// Replaces one sub-resource in place (the placeholder stays). The spec's footnotes 4 and 5
/// refuse some changes with 409: the audience `type` and a defined `viewerToken` are fixed, and
/// a challenge source may not turn from `literal` to `field`.
pub async fn put_part(
    context: &ApiContext,
    principal: &Principal,
    id: &str,
    part: Part,
    value: Option<Value>,
) -> Result<(), ApiError> {
    write(context, principal, id, None, |record| {
        if let Some(new) = &value {
            // Against the JSON as stored: footnote 4 compares the token as written.
            let stored = part.get(record);
            let conflict = match part {
                Part::Audience => objects::audience_put_conflict(stored, new),
                Part::Challenge => objects::challenge_put_conflict(stored, new),
                Part::Fulfillment | Part::LandingPage | Part::Metadata => None,
            };
            if let Some(detail) = conflict {
                return Err(ApiError::Conflict(detail));
            }
        }
        let mut next = record.clone();
        part.set(&mut next, value.clone())?;
        Ok(next)
    })
    .await
    .map(|_| ())
}
