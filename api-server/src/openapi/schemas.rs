//! The request and response shapes of the OpenAPI document.
//!
//! Most handlers build their JSON with `serde_json::json!`, so these types describe it for the
//! document only; schemathesis (`tests/schemathesis/run`) checks every answer against them, so a
//! field added to an answer and not here, or typed differently, fails the test command.

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// An RFC 9457 problem: every 4xx and 5xx answer (`application/problem+json`).
#[derive(ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` when the status says it all).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Raw bytes: a document's content.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// The environment a credential acts in and a document belongs to.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

/// A credential's permission (DESIGN, "Scopes").
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
    Deliver,
    Logs,
    Admin,
}

/// A record's JSON sub-resources.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Audience,
    Challenge,
    Fulfillment,
    Landingpage,
    Metadata,
}

/// One of a record's links.
#[derive(ToSchema)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// A record's links: the record itself, its content and JSON sub-resources, its placeholder.
#[derive(ToSchema)]
pub struct RecordLinks {
    #[serde(rename = "self")]
    pub self_link: Link,
    pub document: Link,
    pub audience: Link,
    pub challenge: Link,
    pub fulfillment: Link,
    pub landingpage: Link,
    pub metadata: Link,
    /// `{gateway}/{docId}{?viewerToken}`, the publishable RFC 6570 template.
    pub placeholder: Link,
}

/// The content's hash, fixed at insertion.
#[derive(ToSchema)]
pub struct Hash {
    /// Always `SHA-1` for now.
    pub algorithm: String,
    /// Lowercase hex.
    pub value: String,
}

/// A document record (spec, "Insert a document").
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRecord {
    pub id: String,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub hash: Hash,
    #[schema(format = DateTime)]
    pub expiration: String,
    #[schema(format = DateTime)]
    pub last_modified: String,
    pub environment: Environment,
    pub links: RecordLinks,
}

/// `GET /documents`: one `{docId: name}` object per document.
#[derive(ToSchema)]
pub struct DocumentList {
    pub msg: String,
    pub documents: Vec<BTreeMap<String, String>>,
}

/// The parts of `POST /documents`. The JSON parts (`audience`, `challenge`, `fulfillment`,
/// `landingpage`, `metadata`) hold a JSON object or `null`; any other part is refused (400).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "document": "Hello", "name": "hello.txt", "metadata": "{\"case\": 42}",
    "audience": "{\"type\": \"records\", \"viewerToken\": \"{?email}\", \"data\": {\"records\": [{\"email\": \"a@example.com\"}]}}",
}))]
pub struct NewDocumentForm {
    /// The content; its part's `Content-Type` is the document's media type and its
    /// `filename` the default name.
    #[schema(value_type = String, format = Binary)]
    pub document: Vec<u8>,
    /// The producer's original name (by default the document part's filename).
    #[serde(default)]
    pub name: String,
    /// RFC 3339, in the future; by default one year from now.
    #[serde(default)]
    pub expiration: String,
    /// JSON (spec, "Audience Specification").
    #[serde(default)]
    pub audience: String,
    /// JSON (spec, "Challenge Specification").
    #[serde(default)]
    pub challenge: String,
    /// JSON (spec, "Fulfillment Specification").
    #[serde(default)]
    pub fulfillment: String,
    /// JSON (spec, "Landing Page Specification").
    #[serde(default)]
    pub landingpage: String,
    /// The producer's own JSON object.
    #[serde(default)]
    pub metadata: String,
}

/// The parts of `POST /documents/{docId}`: any subset of those of `POST /documents`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDocumentForm {
    /// New content, when it changes.
    #[serde(default)]
    #[schema(value_type = String, format = Binary)]
    pub document: Vec<u8>,
    /// The producer's original name (by default the document part's filename).
    #[serde(default)]
    pub name: String,
    /// RFC 3339, in the future; by default one year from now.
    #[serde(default)]
    pub expiration: String,
    /// JSON (spec, "Audience Specification").
    #[serde(default)]
    pub audience: String,
    /// JSON (spec, "Challenge Specification").
    #[serde(default)]
    pub challenge: String,
    /// JSON (spec, "Fulfillment Specification").
    #[serde(default)]
    pub fulfillment: String,
    /// JSON (spec, "Landing Page Specification").
    #[serde(default)]
    pub landingpage: String,
    /// The producer's own JSON object.
    #[serde(default)]
    pub metadata: String,
}

/// `POST /documents/{docId}/links`: the viewers to seal links for.
#[derive(ToSchema)]
pub struct LinksRequest {
    pub viewers: Vec<BTreeMap<String, String>>,
}

/// One sealed link.
#[derive(ToSchema)]
pub struct SealedLink {
    /// `{gateway}/l/{sealed}`.
    pub href: String,
    /// The index of the audience record the link names (`records` audiences with a token).
    pub record: Option<u64>,
}

/// `POST /documents/{docId}/links`'s answer.
#[derive(ToSchema)]
pub struct SealedLinks {
    pub links: Vec<SealedLink>,
}

/// A delivery's counts by recipient status.
#[derive(ToSchema)]
pub struct DeliveryCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}

/// A delivery's own link.
#[derive(ToSchema)]
pub struct DeliveryLinks {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// One recipient of a delivery.
#[derive(ToSchema)]
pub struct RecipientStatus {
    pub recipient: u64,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub attempts: u64,
    #[schema(format = DateTime)]
    pub updated: String,
}

/// A delivery's status (`POST …/deliver`, `GET …/deliveries/{id}`).
#[derive(ToSchema)]
pub struct DeliveryStatus {
    pub id: String,
    pub document: String,
    #[schema(format = DateTime)]
    pub created: String,
    /// `in progress` or `done`.
    pub state: String,
    pub counts: DeliveryCounts,
    pub links: DeliveryLinks,
    pub recipients: Vec<RecipientStatus>,
}

/// The parts of `POST /login`: `key` and `email`, or `assertion` (and `email`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    /// The producer's PEM private key.
    #[serde(default)]
    pub key: String,
    /// A JWT signed with one of the producer's keys.
    #[serde(default)]
    pub assertion: String,
    /// The operator, for the audit trail.
    #[serde(default)]
    pub email: String,
    /// `live` (the default) or `test`.
    #[serde(default)]
    #[schema(pattern = "^(live|test)$")]
    pub environment: String,
}

/// `POST /login`'s answer; the token is in the `Authorization` header.
#[derive(ToSchema)]
pub struct LoggedIn {
    pub msg: String,
    pub producer: String,
    pub environment: Environment,
    #[schema(format = DateTime)]
    pub expires: String,
}

/// One published instance key.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    pub key_id: String,
    /// `Ed25519`.
    pub alg: String,
    /// base64url (no padding) of the raw 32-byte public key.
    pub public_key: String,
}

/// `GET /.well-known/sealpost-keys`: current key first, then the retired ones.
#[derive(ToSchema)]
pub struct PublishedKeys {
    pub keys: Vec<PublishedKey>,
}

/// An API key's own rate limit.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRate {
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub per_second: u32,
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub burst: u32,
}

/// `POST /keys`'s body.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKey {
    /// 1 to 64 of `A-Z a-z 0-9 . _ -`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    pub environment: Option<Environment>,
    /// RFC 3339, in the future; `null`: never.
    #[schema(format = DateTime)]
    pub expires: Option<String>,
    pub encryption: Option<bool>,
    pub rate_limit: Option<KeyRate>,
}

/// An API key as `GET /keys` lists it (never the key or its hash).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub environment: Environment,
    pub scopes: Vec<Scope>,
    pub encryption: bool,
    pub rate_limit: Option<KeyRate>,
    #[schema(format = DateTime)]
    pub created: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

/// `POST /keys`'s answer: the description plus, this once only, the key.
#[derive(ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub description: ApiKey,
    /// `sp_{environment}_{keyId}_{secret}`, for `x-api-key`.
    pub key: String,
    /// base64(`name:key`), for `Authorization: Bearer`.
    pub bearer: String,
}

/// `GET /keys`.
#[derive(ToSchema)]
pub struct ApiKeys {
    pub keys: Vec<ApiKey>,
}

/// `POST /producer/keys`'s body.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewProducerKey {
    /// SubjectPublicKeyInfo PEM or base64 of the raw 32-byte Ed25519 key.
    pub public_key: String,
}

/// One of the producer's public keys.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProducerKey {
    pub key_id: String,
    /// base64 of the raw 32 bytes.
    pub public_key: String,
    pub public_key_pem: String,
    #[schema(format = DateTime)]
    pub created: String,
}

/// `GET /producer/keys`.
#[derive(ToSchema)]
pub struct ProducerKeys {
    pub keys: Vec<ProducerKey>,
}
