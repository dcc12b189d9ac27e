//! `POST /documents`: insertion.

use chrono::{DateTime, Duration, Utc};
use schema::{DocumentId, DocumentRecord, PlaceholderId};

use super::part::{self, Part};
use super::{HASH_ALGORITHM, validate_objects, whole_seconds};
use crate::auth::Principal;
use crate::context::ApiContext;
use crate::error::ApiError;
use crate::form::{DocumentForm, UploadedDocument};

/// Validates the form, then commits the record; the content becomes permanent only once the
/// record is committed, and is destroyed on any failure before that.
pub async fn create(
    context: &ApiContext,
    principal: &Principal,
    mut form: DocumentForm,
) -> Result<DocumentRecord, ApiError> {
    let result = new_record(
        principal,
        &mut form,
        Utc::now(),
        context.limits.max_expiration_days,
    );
    let record = match result.and_then(|record| validate_objects(&record).map(|()| record)) {
        Ok(record) => record,
        Err(error) => {
            form.discard().await;
            return Err(error);
        }
    };
    if let Err(error) = context.repo.insert_document(&record).await {
        form.discard().await;
        return Err(error.into());
    }
    if let Some(document) = form.document.take() {
        document.object.keep();
    }
    principal.audit.document(&record.id);
    Ok(record)
}

fn new_record(
    principal: &Principal,
    form: &mut DocumentForm,
    now: DateTime<Utc>,
    max_expiration_days: u32,
) -> Result<DocumentRecord, ApiError> {
    let document = form
        .document
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("document", "the document part is required"))?;
    let name = document_name(form.name.take(), document)?;
    validate_name(&name)?;
    let expiration = parse_expiration(form.expiration.as_deref(), now, max_expiration_days)?;
    let object = &document.object;
    let mut record = DocumentRecord {
        id: DocumentId::random(),
        producer_id: principal.producer.clone(),
        environment: principal.environment,
        placeholder_id: PlaceholderId::random(),
        name,
        media_type: document.media_type.clone(),
        object_key: object.key().clone(),
        size: i64::try_from(object.size()).map_err(ApiError::internal)?,
        hash_algorithm: HASH_ALGORITHM.to_owned(),
        hash_value: object.sha1_hex().to_owned(),
        expiration,
        audience: None,
        challenge: None,
        fulfillment: None,
        landingpage: None,
        metadata: None,
        created_at: now,
        last_modified: whole_seconds(now),
        access_version: 0,
    };
    Part::set_all(&mut record, &part::take_parts(form))?;
    Ok(record)
}

/// The `name` part, or else the document part's filename (400 when neither is given).
fn document_name(given: Option<String>, document: &UploadedDocument) -> Result<String, ApiError> {
    given.or_else(|| document.filename.clone()).ok_or_else(|| {
        ApiError::bad_request(
            "name",
            "give a name part or a filename on the document part",
        )
    })
}

pub(super) fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    // Hierarchical names (`reports/2024/q1.pdf`) are the producer's own convention (spec, Data
    // Model); names that climb (`..`), start at a root or use backslashes are refused, so a
    // name can never be mistaken for a path by anything downstream.
    if name.starts_with('/')
        || name.contains('\\')
        || name.split('/').any(|segment| segment == "..")
    {
        return Err(ApiError::invalid(
            "name",
            "must not start with '/', contain '\\' or '..' segments",
        ));
    }
    Ok(())
}

/// RFC 3339 or HTTP-date; absent means one year ahead (or `max_days`, if sooner); the past is
/// refused (400, the spec's first failure case), and so is a date more than `max_days` ahead
/// (422: `api.max_expiration_days`, so no document is kept for ever by mistake or by design).
pub fn parse_expiration(
    text: Option<&str>,
    now: DateTime<Utc>,
    max_days: u32,
) -> Result<DateTime<Utc>, ApiError> {
    let latest = now + Duration::days(i64::from(max_days));
    let Some(text) = text.map(str::trim) else {
        return Ok((now + Duration::days(365)).min(latest));
    };
    let expiration = DateTime::parse_from_rfc3339(text)
        .map(|date| date.with_timezone(&Utc))
        .or_else(|_| httpdate::parse_http_date(text).map(DateTime::<Utc>::from))
        .map_err(|_| {
            ApiError::bad_request(
                "expiration",
                "must be an RFC 3339 date-time or an HTTP-date",
            )
        })?;
    if expiration <= now {
        return Err(ApiError::bad_request(
            "expiration",
            "is already in the past",
        ));
    }
    if expiration > latest {
        return Err(ApiError::invalid(
            "expiration",
            format!("must be at most {max_days} days ahead"),
        ));
    }
    Ok(expiration)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expiration_formats() {
        let now = Utc::now();
        assert_eq!(
            parse_expiration(None, now, 3650).unwrap(),
            now + Duration::days(365)
        );
        assert_eq!(
            parse_expiration(None, now, 30).unwrap(),
            now + Duration::days(30)
        );
        assert!(parse_expiration(Some("2030-01-01T00:00:00Z"), now, 3650).is_ok());
        assert!(parse_expiration(Some("Tue, 01 Jan 2030 00:00:00 GMT"), now, 3650).is_ok());
        assert!(parse_expiration(Some("2000-01-01T00:00:00Z"), now, 3650).is_err());
        assert!(parse_expiration(Some("tomorrow"), now, 3650).is_err());
    }

    #[test]
    fn expiration_has_an_upper_bound() {
        let now = Utc::now();
        for far in ["2999-01-01T00:00:00Z", "Tue, 01 Jan 2999 00:00:00 GMT"] {
            let error = parse_expiration(Some(far), now, 3650).unwrap_err();
            assert!(matches!(error, ApiError::Invalid { ref field, .. } if field == "expiration"));
        }
        let near = (now + Duration::days(29)).to_rfc3339();
        let far = (now + Duration::days(31)).to_rfc3339();
        assert!(parse_expiration(Some(&near), now, 30).is_ok());
        assert!(parse_expiration(Some(&far), now, 30).is_err());
    }
}
