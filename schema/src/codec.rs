//! What both database implementations share: column lists, the row → record mapping, and the
//! encodings of the values both dialects store the same way.
//!
//! Only the SQL text and the binding of parameters differ between the `sqlite` and `postgres`
//! modules (the gateway's tables have `gateway_codec`, the audit logs `log_codec`); everything
//! that reads a row back lives here, once, so the two cannot drift:
//! - times: `DateTime<Utc>` ↔ integer milliseconds since the Unix epoch (sub-millisecond
//!   precision is dropped on the way in);
//! - JSON values: `serde_json::Value` ↔ its compact text; a document's spec objects are
//!   stored as the JSON the producer wrote and parsed once, when the row is read;
//! - identifiers: parsed back through their `parse`, so a malformed stored id is a
//!   [`RepoError::Corrupt`], never a typed id that breaks its invariant;
//! - sealed columns: a document's viewer data and secrets sealed on the way in and opened on
//!   the way out with the record cipher ([`crate::cipher`]), in `sealed`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::cipher::{self, RecordCipher};
use crate::ids::{DocumentId, IdError, ObjectKey};
use crate::model::{DocumentRecord, LoginSession, ObjectRecord, Producer};
use crate::repo::{RepoError, UniqueKey};

/// The columns [`producer`] reads, in a form `concat!` accepts.
macro_rules! producer_columns {
    () => {
        "id, name, email, public_key, created_at"
    };
}
/// The columns [`session`] reads.
macro_rules! session_columns {
    () => {
        "jti, producer_id, email, issued_at, expires_at, revoked_at, key_id, environment"
    };
}
/// The columns [`object`] reads.
macro_rules! object_columns {
    () => {
        "key, kek_id, wrapped_dek, size, sha1, created_at"
    };
}
/// The columns [`document`] reads, also the insertion order of `insert_document`.
macro_rules! document_columns {
    () => {
        "id, producer_id, placeholder_id, name, media_type, object_key, size, hash_algorithm, \
         hash_value, expiration, audience, challenge, fulfillment, landingpage, metadata, \
         created_at, last_modified, access_version, environment"
    };
}
/// The columns a replacement rewrites, in [`bind_document_changes`] order.
macro_rules! document_change_columns {
    () => {
        [
            "placeholder_id",
            "name",
            "media_type",
            "object_key",
            "size",
            "hash_algorithm",
            "hash_value",
            "expiration",
            "audience",
            "challenge",
            "fulfillment",
            "landingpage",
            "metadata",
            "last_modified",
            "access_version",
        ]
    };
}
pub(crate) use {document_columns, object_columns, producer_columns, session_columns};

mod sealed;
pub(crate) use sealed::{
    SealedColumns, json_text, parsed, seal_document, seal_value, sealed_json, sealed_object,
};

/// One value to rewrite: `(column, stored, new)`.
pub(crate) type Reseal = (&'static str, String, String);

/// What resealing one row under the current key changes: the row's id, and a [`Reseal`] for each
/// sealed column that is legacy plaintext or sealed under an older key.
pub(crate) fn reseal_row(
    row: &impl Columns,
    cipher: &RecordCipher,
) -> Result<(String, Vec<Reseal>), RepoError> {
    let id: String = row.text("id")?;
    let keys = cipher.keys();
    let mut changes = Vec::new();
    for column in cipher::SEALED_COLUMNS {
        let Some(stored) = row.opt_text(column)? else {
            continue;
        };
        if keys.is_current(&stored) {
            continue;
        }
        let plain = if cipher::is_sealed(&stored) {
            cipher
                .open(&id, column, &stored)
                .map_err(|e| RepoError::Corrupt(format!("{column} of {id}: {e}")))?
        } else {
            stored.as_bytes().to_vec()
        };
        let sealed = keys
            .seal(&id, column, &plain)
            .map_err(|e| RepoError::RecordKeys(e.to_string()))?;
        changes.push((column, stored, sealed));
    }
    Ok((id, changes))
}

/// Binds the columns a replacement rewrites, in `document_change_columns!` order.
pub(crate) fn bind_document_changes<D: crate::sql::Dialect>(
    query: crate::sql::query::Sql<D>,
    document: &DocumentRecord,
    sealed: SealedColumns,
) -> crate::sql::query::Sql<D> {
    query
        .bind(document.placeholder_id.as_str())
        .bind(&document.name)
        .bind(&document.media_type)
        .bind(document.object_key.as_str())
        .bind(document.size)
        .bind(&document.hash_algorithm)
        .bind(&document.hash_value)
        .bind(millis(document.expiration))
        .bind(sealed.audience)
        .bind(sealed.challenge)
        .bind(sealed.fulfillment)
        .bind(json_text(document.landingpage.as_ref()))
        .bind(sealed.metadata)
        .bind(millis(document.last_modified))
        .bind(document.access_version)
}

/// `INSERT INTO documents …` with every column: `$1` id, `$2` producer, `$3` creation time,
/// `$4` environment (fixed at creation), then the columns a replacement rewrites, in
/// [`bind_document_insert`] order.
pub(crate) static INSERT_DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns = document_change_columns!();
    let values: Vec<String> = (1..=4 + columns.len()).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO documents (id, producer_id, created_at, environment, {}) VALUES ({})",
        columns.join(", "),
        values.join(", ")
    )
});

/// Inserts `document` with [`INSERT_DOCUMENT`]'s column order.
pub(crate) fn bind_document_insert<D: crate::sql::Dialect>(
    query: crate::sql::query::Sql<D>,
    document: &DocumentRecord,
    sealed: SealedColumns,
) -> crate::sql::query::Sql<D> {
    let query = query
        .bind(document.id.as_str())
        .bind(document.producer_id.as_str())
        .bind(millis(document.created_at))
        .bind(document.environment.as_str());
    bind_document_changes(query, document, sealed)
}

/// The compare-and-swap replacement of a document: the changed columns from `$1`, then
/// producer, id and the expected `last_modified`.
pub(crate) static REPLACE_DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns = document_change_columns!();
    let n = columns.len();
    let set: Vec<String> = (1..)
        .zip(columns)
        .map(|(i, column)| format!("{column} = ${i}"))
        .collect();
    format!(
        "UPDATE documents SET {} WHERE producer_id = ${} AND id = ${} AND last_modified = ${}",
        set.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
});

/// Maps a database error, turning unique violations into [`RepoError::Conflict`].
pub(crate) fn db_error(error: sqlx::Error) -> RepoError {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => RepoError::Conflict {
            what: unique_key(db.as_ref()),
        },
        sqlx::Error::ColumnDecode { index, source } => {
            RepoError::Corrupt(format!("column {index}: {source}"))
        }
        other => RepoError::Database(other),
    }
}

/// The key of a unique violation: PostgreSQL names the constraint (by default
/// `table_column_key`, `table_pkey`), SQLite only says `UNIQUE constraint failed: table.column`
/// in its message. Neither carries the offending value.
fn unique_key(db: &dyn sqlx::error::DatabaseError) -> UniqueKey {
    let named = db
        .constraint()
        .or_else(|| db.message().strip_prefix("UNIQUE constraint failed: "))
        .unwrap_or(db.message());
    match named {
        "producers_pkey" | "producers.id" => UniqueKey::ProducerId,
        "producers_name_key" | "producers.name" => UniqueKey::ProducerName,
        "producers_public_key_key" | "producers.public_key" => UniqueKey::ProducerKey,
        "login_sessions_pkey" | "login_sessions.jti" => UniqueKey::SessionId,
        "api_keys_pkey" | "api_keys.id" => UniqueKey::ApiKeyId,
        "api_keys_active_name" | "api_keys.producer_id, api_keys.name" => UniqueKey::ApiKeyName,
        "producer_keys_pkey" | "producer_keys.id" => UniqueKey::ProducerKeyId,
        "producer_keys_public_key_key" | "producer_keys.public_key" => {
            UniqueKey::ProducerKeyPublicKey
        }
        "used_assertions_pkey" | "used_assertions.producer_id, used_assertions.jti" => {
            UniqueKey::AssertionId
        }
        "objects_pkey" | "objects.key" => UniqueKey::ObjectKey,
        "documents_pkey" | "documents.id" => UniqueKey::DocumentId,
        "documents_placeholder_id_key" | "documents.placeholder_id" => UniqueKey::PlaceholderId,
        "documents_object_key_key" | "documents.object_key" => UniqueKey::DocumentObject,
        "deliveries_pkey" | "deliveries.id" => UniqueKey::DeliveryId,
        other => UniqueKey::Other(other.to_owned()),
    }
}

/// The instant as stored: whole milliseconds since the Unix epoch.
pub(crate) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// Typed access to the columns of a row of either database.
pub trait Columns {
    fn text(&self, column: &str) -> Result<String, RepoError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, RepoError>;
    fn int(&self, column: &str) -> Result<i64, RepoError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, RepoError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, RepoError>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, RepoError>;

    fn id<T: FromStr<Err = IdError>>(&self, column: &str) -> Result<T, RepoError> {
        let text = self.text(column)?;
        text.parse()
            .map_err(|_| RepoError::Corrupt(format!("{column}: malformed identifier")))
    }

    fn opt_id<T: FromStr<Err = IdError>>(&self, column: &str) -> Result<Option<T>, RepoError> {
        self.opt_text(column)?
            .map(|text| {
                text.parse()
                    .map_err(|_| RepoError::Corrupt(format!("{column}: malformed identifier")))
            })
            .transpose()
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, RepoError> {
        from_millis(column, self.int(column)?)
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, RepoError> {
        self.opt_int(column)?
            .map(|ms| from_millis(column, ms))
            .transpose()
    }

    fn json(&self, column: &str) -> Result<Option<serde_json::Value>, RepoError> {
        self.opt_text(column)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| RepoError::Corrupt(format!("{column}: invalid JSON: {e}")))
            })
            .transpose()
    }
}

fn from_millis(column: &str, ms: i64) -> Result<DateTime<Utc>, RepoError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| RepoError::Corrupt(format!("{column}: time out of range")))
}

impl<R> Columns for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<String, RepoError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, RepoError> {
        self.try_get(column).map_err(db_error)
    }
    fn int(&self, column: &str) -> Result<i64, RepoError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, RepoError> {
        self.try_get(column).map_err(db_error)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, RepoError> {
        self.try_get(column).map_err(db_error)
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, RepoError> {
        self.try_get(column).map_err(db_error)
    }
}

pub(crate) fn producer(row: &impl Columns) -> Result<Producer, RepoError> {
    Ok(Producer {
        id: row.id("id")?,
        name: row.text("name")?,
        email: row.opt_text("email")?,
        public_key: row.bytes("public_key")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn session(row: &impl Columns) -> Result<LoginSession, RepoError> {
    Ok(LoginSession {
        jti: row.text("jti")?,
        producer_id: row.id("producer_id")?,
        email: row.text("email")?,
        issued_at: row.time("issued_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        key_id: row.opt_text("key_id")?,
        environment: row
            .text("environment")?
            .parse()
            .map_err(|e| RepoError::Corrupt(format!("environment: {e}")))?,
    })
}

pub(crate) fn object(row: &impl Columns) -> Result<ObjectRecord, RepoError> {
    Ok(ObjectRecord {
        key: row.id("key")?,
        kek_id: row.text("kek_id")?,
        wrapped_dek: row.bytes("wrapped_dek")?,
        size: row.opt_int("size")?,
        sha1: row.opt_text("sha1")?,
        created_at: row.time("created_at")?,
    })
}

/// The object and signature columns of a download row ([`crate::model::Download`]), read
/// under their `o_` and `s_` aliases; `None` for each side the outer join found no row for.
pub(crate) fn joined_object(
    row: &impl Columns,
) -> Result<(Option<ObjectRecord>, Option<crate::model::ContentSignature>), RepoError> {
    let object = match row.opt_text("o_key")? {
        None => None,
        Some(_) => Some(ObjectRecord {
            key: row.id("o_key")?,
            kek_id: row.text("o_kek_id")?,
            wrapped_dek: row.bytes("o_wrapped_dek")?,
            size: row.opt_int("o_size")?,
            sha1: row.opt_text("o_sha1")?,
            created_at: row.time("o_created_at")?,
        }),
    };
    let signature = match row.opt_text("s_sha256")? {
        None => None,
        Some(sha256) => Some(crate::model::ContentSignature {
            sha256,
            signature: row.text("s_signature")?,
            signature_date: row.text("s_signature_date")?,
        }),
    };
    Ok((object, signature))
}

/// An `object_signatures` row (`sha256, signature, signature_date`).
pub(crate) fn signature(row: &impl Columns) -> Result<crate::model::ContentSignature, RepoError> {
    Ok(crate::model::ContentSignature {
        sha256: row.text("sha256")?,
        signature: row.text("signature")?,
        signature_date: row.text("signature_date")?,
    })
}

pub(crate) fn object_key(row: &impl Columns) -> Result<ObjectKey, RepoError> {
    row.id("key")
}

/// A document row, its sealed columns opened with `cipher` ([`sealed_json`]) and its spec
/// objects parsed ([`parsed`]).
pub(crate) fn document(
    row: &impl Columns,
    cipher: Option<&RecordCipher>,
) -> Result<DocumentRecord, RepoError> {
    let id: DocumentId = row.id("id")?;
    let doc = id.as_str();
    Ok(DocumentRecord {
        audience: sealed_object(row, doc, cipher)?,
        challenge: sealed_object(row, doc, cipher)?,
        fulfillment: sealed_object(row, doc, cipher)?,
        metadata: sealed_json(row, "metadata", doc, cipher)?,
        id,
        producer_id: row.id("producer_id")?,
        placeholder_id: row.id("placeholder_id")?,
        name: row.text("name")?,
        media_type: row.text("media_type")?,
        object_key: row.id("object_key")?,
        size: row.int("size")?,
        hash_algorithm: row.text("hash_algorithm")?,
        hash_value: row.text("hash_value")?,
        expiration: row.time("expiration")?,
        landingpage: parsed(row.json("landingpage")?)?,
        created_at: row.time("created_at")?,
        last_modified: row.time("last_modified")?,
        access_version: row.int("access_version")?,
        environment: environment(row)?,
    })
}

/// The `environment` column (migration 0015).
pub(crate) fn environment(row: &impl Columns) -> Result<crate::Environment, RepoError> {
    row.text("environment")?
        .parse()
        .map_err(|error: crate::credentials::UnknownName| RepoError::Corrupt(error.to_string()))
}

/// One vault access-log record.
pub(crate) fn vault_log(row: &impl Columns) -> Result<crate::model::VaultLogRecord, RepoError> {
    Ok(crate::model::VaultLogRecord {
        producer_id: row.opt_id("producer_id")?,
        document_id: row.opt_id("document_id")?,
        time: row.time("time")?,
        fields: row.text("fields")?,
    })
}

/// One KEK's usage: `(kek_id, object count)`.
pub(crate) fn kek_count(row: &impl Columns) -> Result<(String, i64), RepoError> {
    Ok((row.text("kek_id")?, row.int("n")?))
}

/// One expired document: `(producer_id, id)`.
pub(crate) fn expired(
    row: &impl Columns,
) -> Result<(crate::ids::ProducerId, DocumentId), RepoError> {
    Ok((row.id("producer_id")?, row.id("id")?))
}

/// One entry of a document listing: `(id, name)`.
pub(crate) fn listing(row: &impl Columns) -> Result<(DocumentId, String), RepoError> {
    Ok((row.id("id")?, row.text("name")?))
}

/// `limit` as both databases' `LIMIT` parameter type.
pub(crate) fn limit(limit: u32) -> i64 {
    i64::from(limit)
}

/// Builds a migrator from migrations embedded at compile time, so an installed binary needs no
/// migrations folder beside it. Versions and descriptions follow the file names, exactly as
/// `sqlx::migrate!` would derive them, so switching to that macro later keeps the history valid.
pub(crate) fn migrator(
    migrations: &[(i64, &'static str, &'static str)],
) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sqlx::SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

/// An update that must have hit its row: none is [`sqlx::Error::RowNotFound`], which the services
/// map to 404 like any other missing row.
pub(crate) fn updated_one(rows_affected: u64) -> Result<(), RepoError> {
    if rows_affected == 0 {
        Err(RepoError::Database(sqlx::Error::RowNotFound))
    } else {
        Ok(())
    }
}
