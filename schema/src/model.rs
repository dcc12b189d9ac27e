//! The records the services keep.

use chrono::{DateTime, Utc};

use crate::credentials::Environment;
use crate::ids::{DocumentId, ObjectKey, PlaceholderId, ProducerId};
use crate::objects::{Audience, Challenge, Fulfillment, LandingPage, Typed};

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
    /// The producer key that logged in (`producer_keys.id`): removing that key revokes the
    /// session. `None` for sessions opened before keys were recorded (migration 0013).
    pub key_id: Option<String>,
    /// The environment the session acts in (the login's `environment` part).
    pub environment: crate::credentials::Environment,
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

/// A stored object's content signature (DESIGN.md, "Signed responses"): made by the API with
/// the instance key when the content was stored, sent by the vault with whole downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentSignature {
    /// Lowercase hex SHA-256 of the plaintext.
    pub sha256: String,
    /// The `x-sealpost-signature` header value.
    pub signature: String,
    /// The `x-sealpost-signature-date` header value (an HTTP-date).
    pub signature_date: String,
}

/// What the vault needs to serve a handle, read in one query: the document, its object row
/// (the wrapped data key; `None` when the row is gone) and the content's signature (`None` for
/// contents stored before migration 0008).
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub document: DocumentRecord,
    pub object: Option<ObjectRecord>,
    pub signature: Option<ContentSignature>,
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
    /// The spec objects, parsed when the row is read and kept beside the JSON the producer
    /// wrote (which the API hands back as it was given; see [`Typed`]). `None`: no object.
    pub audience: Option<Typed<Audience>>,
    pub challenge: Option<Typed<Challenge>>,
    pub fulfillment: Option<Typed<Fulfillment>>,
    pub landingpage: Option<Typed<LandingPage>>,
    /// The producer's own JSON, never interpreted.
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// Moves on every change of who may read the document (its audience or challenge); handles
    /// bind it, and the vault refuses those minted under another version (migration 0011).
    pub access_version: i64,
    /// The environment of the credential that created it, fixed then (migration 0015): a
    /// credential of the other environment never sees it.
    pub environment: Environment,
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

/// The document as the gateway needs it for a document request: everything but the audience
/// JSON (which can be large; the gateway loads it once per version with `document_audience`).
/// The challenge and landing page are parsed when the row is read; the gateway never needs
/// their JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewerDocument {
    pub id: DocumentId,
    pub producer_id: ProducerId,
    pub placeholder_id: PlaceholderId,
    pub object_key: ObjectKey,
    pub name: String,
    pub media_type: String,
    pub expiration: DateTime<Utc>,
    /// Whether the document has an audience (the audience column is not NULL).
    pub has_audience: bool,
    pub challenge: Option<Challenge>,
    pub landingpage: Option<LandingPage>,
    pub last_modified: DateTime<Utc>,
    /// [`DocumentRecord::access_version`], which the gateway binds into the handles it mints.
    pub access_version: i64,
    /// [`DocumentRecord::environment`]: a test document's landing page says it is a test.
    pub environment: Environment,
}

/// One gateway access-log record as the gateway hands it over. `head` is DESIGN.md's first
/// seven gateway columns (docId, end-time, start-time, remote-IP, method, request-URI-without-
/// query, HTTP-status), already escaped and tab-separated; the repository adds the last two
/// (hit-number, publisher-id) when it writes the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLogRecord {
    pub producer_id: Option<ProducerId>,
    pub document_id: Option<DocumentId>,
    pub time: DateTime<Utc>,
    pub head: String,
}

/// A stored gateway log line: `fields` is all nine columns, tab-separated
/// (`head` + "\t" + hit-number or "-" + "\t" + publisher-id or "-").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLogLine {
    pub producer_id: Option<ProducerId>,
    pub document_id: Option<DocumentId>,
    pub time: DateTime<Utc>,
    pub hit: Option<i64>,
    pub fields: String,
}

/// One API-log record as the API server hands it over. `head` is DESIGN.md's first seven API
/// columns (docId … HTTP-status), escaped and tab-separated; the repository adds hit-number and
/// publisher-id, then `tail` (the 10th column: the operator's login email, or "-"), stored as
/// given (so escaped like `head`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiLogRecord {
    pub producer_id: Option<ProducerId>,
    pub document_id: Option<DocumentId>,
    pub time: DateTime<Utc>,
    pub head: String,
    pub tail: String,
}

/// What a retention purge removed from one log: lines per producer (`None`: lines that named
/// no producer, such as junk requests). Producers with nothing removed are absent.
pub type PurgedLines = std::collections::BTreeMap<Option<ProducerId>, u64>;

/// The three audit logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    Api,
    Gateway,
    Vault,
}

impl LogKind {
    /// Every log, in the order `GET /logs` lists them.
    pub const ALL: [LogKind; 3] = [LogKind::Api, LogKind::Gateway, LogKind::Vault];

    /// `"api"`, `"gateway"` or `"vault"`: the log's name in `log_heads` and in file names.
    pub fn name(self) -> &'static str {
        match self {
            LogKind::Api => "api",
            LogKind::Gateway => "gateway",
            LogKind::Vault => "vault",
        }
    }
}

/// One stored line of any log, as an export streams it. `fields` is the full stored line (all
/// columns, tab-separated, escaped). `chain` is [`crate::audit::chain`]`(prev, fields)`, and
/// `prev` is the `chain` of the previous line of the same (log, producer) chain, or
/// [`crate::audit::GENESIS`] for the first one (rows without producer form one more chain).
/// Both are empty for a row written without a chain (only by a writer older than migration
/// 0006 still running after the upgrade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: i64,
    pub producer_id: Option<ProducerId>,
    pub document_id: Option<DocumentId>,
    pub time: DateTime<Utc>,
    pub fields: String,
    pub prev: String,
    pub chain: String,
}

/// A sign-in under way at an OAuth / OpenID provider: written when the gateway sends the viewer
/// to the provider, taken (deleted) once by the callback, so a `state` works once.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthPending {
    /// Lowercase hex SHA-256 of the `state` value (the state itself is only in the viewer's
    /// cookie and in the provider's redirect).
    pub state_hash: String,
    pub document_id: DocumentId,
    /// The document request to return to: path and query as the viewer sent it.
    pub request: String,
    /// The PKCE code verifier (secret until the token exchange).
    pub pkce_verifier: String,
    /// The OpenID `nonce` sent with the authorization request.
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
}

/// Redacts the request (its query may carry a sealed link), the PKCE verifier and the nonce, so
/// a logged or panicking `OAuthPending` leaks nothing that helps finish the sign-in.
impl std::fmt::Debug for OAuthPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthPending")
            .field("state_hash", &self.state_hash)
            .field("document_id", &self.document_id)
            .field("request", &"<redacted>")
            .field("pkce_verifier", &"<redacted>")
            .field("nonce", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_pending_debug_redacts_the_secrets() {
        let pending = OAuthPending {
            state_hash: "ab12".to_owned(),
            document_id: DocumentId::random(),
            request: "/d/secret-request".to_owned(),
            pkce_verifier: "secret-verifier".to_owned(),
            nonce: "secret-nonce".to_owned(),
            expires_at: DateTime::UNIX_EPOCH,
        };
        let shown = format!("{pending:?}");
        assert!(shown.contains("ab12"), "{shown}");
        assert!(shown.contains(pending.document_id.as_str()), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
