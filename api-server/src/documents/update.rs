//! `POST /documents/{docId}` (update, new placeholder) and `PUT /documents/{docId}/{part}`.

use chrono::{DateTime, Utc};
use schema::objects;
use schema::{DocumentRecord, PlaceholderId};
use serde_json::Value;

use super::create::validate_name;
use super::part::{self, Part};
use super::{Outcome, parse_expiration, write};
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form::{DocumentForm, UploadedDocument};

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
    let changes = Changes::read(form, context.limits.max_expiration_days)?;
    let outcome = write(context, principal, id, None, |record| {
        changes.apply_to(record)
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

/// What an update changes, read from its form before the record (400/422 for a bad name or
/// expiration); applied to whichever version of the record the write reads.
struct Changes<'a> {
    name: Option<String>,
    expiration: Option<DateTime<Utc>>,
    parts: Vec<(Part, Option<Value>)>,
    /// The new content and its size.
    content: Option<(&'a UploadedDocument, i64)>,
}

impl<'a> Changes<'a> {
    fn read(form: &'a mut DocumentForm, max_expiration_days: u32) -> Result<Self, ApiError> {
        let name = form.name.take();
        if let Some(name) = &name {
            validate_name(name)?;
        }
        let expiration = (form.expiration.take())
            .map(|text| parse_expiration(Some(&text), Utc::now(), max_expiration_days))
            .transpose()?;
        let parts = part::take_parts(form);
        let form: &'a DocumentForm = form;
        let content = (form.document.as_ref())
            .map(|document| {
                let size = i64::try_from(document.object.size()).map_err(ApiError::internal)?;
                Ok::<_, ApiError>((document, size))
            })
            .transpose()?;
        Ok(Self {
            name,
            expiration,
            parts,
            content,
        })
    }

    /// The record with the changes and a new placeholder (422 for an invalid part).
    fn apply_to(&self, record: &DocumentRecord) -> Result<DocumentRecord, ApiError> {
        let mut next = record.clone();
        next.placeholder_id = PlaceholderId::random();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(expiration) = self.expiration {
            next.expiration = expiration;
        }
        Part::set_all(&mut next, &self.parts)?;
        if let Some((document, size)) = self.content {
            next.object_key = document.object.key().clone();
            next.size = size;
            next.media_type.clone_from(&document.media_type);
            next.hash_value = document.object.sha1_hex().to_owned();
        }
        Ok(next)
    }
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
