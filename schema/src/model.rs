//! The records the services keep.

use chrono::{DateTime, Utc};

use crate::ids::{DocumentId, ObjectKey, PlaceholderId, ProducerId};

/// A producer (tenant). Only the Ed25519 public key is kept; the private key is the producer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub id: ProducerId,
    /// Unique, chosen by the operator (`sealpost producer add NAME`).
    pub name: String,
    pub email: Option<String>,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// One login: the token id (`jti`), who logged in and until when. Revoking sets `revoked_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    pub jti: String,
    pub producer_id: ProducerId,
    /// The operator's email, given at login, kept for auditing.
    pub email: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A vault object: the wrapped data key lives here, never beside the ciphertext, so a copy of the
/// object store alone (or after this row is deleted) cannot be decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    pub key: ObjectKey,
    /// Which key-encryption key wrapped `wrapped_dek`.
    pub kek_id: String,
    pub wrapped_dek: Vec<u8>,
    /// Plaintext size, known once the upload finished (`None` while pending).
    pub size: Option<i64>,
    /// Lowercase hex SHA-1 of the plaintext, known once the upload finished.
    pub sha1: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A document record as the producer API sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub producer_id: ProducerId,
    pub placeholder_id: PlaceholderId,
    pub name: String,
    pub media_type: String,
    pub object_key: ObjectKey,
    pub size: i64,
    /// Fixed at insertion (spec, "Retrieve", footnote 1): always `SHA-1` for now.
    pub hash_algorithm: String,
    pub hash_value: String,
    pub expiration: DateTime<Utc>,
    pub audience: Option<serde_json::Value>,
    pub challenge: Option<serde_json::Value>,
    pub fulfillment: Option<serde_json::Value>,
    pub landingpage: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

/// One vault access-log record. `fields` is the served line: DESIGN.md's 14 tab-separated
/// columns, already escaped. The other members scope it for export; `None` when the request
/// named no valid document (junk or forged handles are logged too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultLogRecord {
    pub producer_id: Option<ProducerId>,
    pub document_id: Option<DocumentId>,
    pub time: DateTime<Utc>,
    pub fields: String,
}
