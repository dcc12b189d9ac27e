//! A document's JSON columns as stored: the sealed ones (audience, challenge, fulfillment,
//! metadata) sealed on the way in and opened on the way out with the record cipher
//! ([`crate::cipher`]), and the spec objects among them parsed once, when the row is read,
//! into [`Typed`] values that keep the JSON as the producer wrote it (so the stored text, and
//! every row already on disk, stays as it was).

use crate::cipher::{self, RecordCipher};
use crate::model::DocumentRecord;
use crate::objects::{SpecObject, Typed};
use crate::repo::RepoError;

use super::Columns;

/// The sealed columns of a document as they are stored ([`crate::cipher`]): sealed under the
/// repository's record keys, or plain JSON text in a repository opened without keys (tools
/// and tests; every service opens with keys).
pub(crate) struct SealedColumns {
    pub(crate) audience: Option<String>,
    pub(crate) challenge: Option<String>,
    pub(crate) fulfillment: Option<String>,
    pub(crate) metadata: Option<String>,
}

/// Seals `document`'s audience, challenge, fulfillment and metadata for storage.
pub(crate) fn seal_document(
    document: &DocumentRecord,
    cipher: Option<&RecordCipher>,
) -> Result<SealedColumns, RepoError> {
    let id = document.id.as_str();
    Ok(SealedColumns {
        audience: seal_value(cipher, id, "audience", document.audience.as_ref())?,
        challenge: seal_value(cipher, id, "challenge", document.challenge.as_ref())?,
        fulfillment: seal_value(cipher, id, "fulfillment", document.fulfillment.as_ref())?,
        metadata: seal_value(cipher, id, "metadata", document.metadata.as_ref())?,
    })
}

/// One sealed column's stored text; `None` stays NULL.
pub(crate) fn seal_value(
    cipher: Option<&RecordCipher>,
    document: &str,
    column: &str,
    value: Option<&(impl StoredJson + ?Sized)>,
) -> Result<Option<String>, RepoError> {
    let Some(text) = json_text(value) else {
        return Ok(None);
    };
    let Some(cipher) = cipher else {
        return Ok(Some(text));
    };
    cipher
        .seal(document, column, text.as_bytes())
        .map(Some)
        .map_err(|e| RepoError::RecordKeys(format!("{column}: {e}")))
}

/// Reads a sealed column of document `document`: opened with the repository's keys, or read as
/// it is when it predates encryption (legacy plaintext JSON). A repository opened without keys
/// (the vault, which never needs viewer data) reads a sealed value as absent.
pub(crate) fn sealed_json(
    row: &impl Columns,
    column: &str,
    document: &str,
    cipher: Option<&RecordCipher>,
) -> Result<Option<serde_json::Value>, RepoError> {
    let Some(stored) = row.opt_text(column)? else {
        return Ok(None);
    };
    let text = if cipher::is_sealed(&stored) {
        let Some(cipher) = cipher else {
            return Ok(None);
        };
        let plain = cipher
            .open(document, column, &stored)
            .map_err(|e| RepoError::Corrupt(format!("{column}: {e}")))?;
        String::from_utf8(plain).map_err(|_| RepoError::Corrupt(format!("{column}: not UTF-8")))?
    } else {
        stored
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| RepoError::Corrupt(format!("{column}: invalid JSON: {e}")))
}

/// The spec object stored in column `T::NAME` of document `document` ([`sealed_json`]),
/// parsed once, here.
pub(crate) fn sealed_object<T: SpecObject>(
    row: &impl Columns,
    document: &str,
    cipher: Option<&RecordCipher>,
) -> Result<Option<Typed<T>>, RepoError> {
    parsed(sealed_json(row, T::NAME, document, cipher)?)
}

/// A stored spec object parsed: JSON `null` reads as absent (as `objects::validate` has it),
/// and a value that no longer parses is [`RepoError::Corrupt`], never a half-valid object.
pub(crate) fn parsed<T: SpecObject>(
    json: Option<serde_json::Value>,
) -> Result<Option<Typed<T>>, RepoError> {
    Typed::parse_present(json)
        .map_err(|e| RepoError::Corrupt(format!("{}: stored value does not parse: {e}", T::NAME)))
}

/// A JSON value as stored: its compact text.
pub(crate) fn json_text(value: Option<&(impl StoredJson + ?Sized)>) -> Option<String> {
    value.map(|value| value.stored_json().to_string())
}

/// What a JSON column stores: a raw value, or a spec object's JSON as the producer wrote it
/// (so a typed record stores exactly the text an untyped one did).
pub(crate) trait StoredJson {
    fn stored_json(&self) -> &serde_json::Value;
}

impl StoredJson for serde_json::Value {
    fn stored_json(&self) -> &serde_json::Value {
        self
    }
}

impl<T> StoredJson for Typed<T> {
    fn stored_json(&self) -> &serde_json::Value {
        self.json()
    }
}
