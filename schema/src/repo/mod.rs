//! The repository contract shared by every service: [`Repository`], the sum of the area traits
//! in `areas` (one per part of the system), and its error type.

use std::sync::Arc;

use async_trait::async_trait;

/// A boxed, `Send` stream (`futures_core::stream::BoxStream`, re-exported by `futures-util`).
pub use futures_util::stream::BoxStream;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique key was already taken (e.g. a producer name): the caller's request contradicts
    /// what is stored, so services answer it as a conflict (409), never as a failure.
    #[error("conflict: {what} is already taken")]
    Conflict { what: UniqueKey },
    /// A stored value could not be read back into its typed form.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?} (expected sqlite:… or postgres://…)")]
    UnsupportedUrl(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A value could not be sealed, or the repository holds no record keys for a task that
    /// needs them ([`crate::cipher`]).
    #[error("record encryption: {0}")]
    RecordKeys(String),
}

/// Which unique key a write collided with, read from the database's unique-violation error
/// (the constraint's name on PostgreSQL, `table.column` in SQLite's message), so that callers
/// branch on a value rather than on either database's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UniqueKey {
    /// `producers.id`.
    ProducerId,
    /// `producers.name`.
    ProducerName,
    /// `producers.public_key`.
    ProducerKey,
    /// `login_sessions.jti`.
    SessionId,
    /// `api_keys.id`.
    ApiKeyId,
    /// An unrevoked API key's name, per producer (`api_keys_active_name`).
    ApiKeyName,
    /// `producer_keys.public_key` (the key is already some producer's).
    ProducerKeyPublicKey,
    /// `producer_keys.id`.
    ProducerKeyId,
    /// `used_assertions (producer_id, jti)`: the assertion was used before.
    AssertionId,
    /// `objects.key`.
    ObjectKey,
    /// `documents.id`.
    DocumentId,
    /// `documents.placeholder_id`.
    PlaceholderId,
    /// `documents.object_key`: a document owns its object, two never share one.
    DocumentObject,
    /// `deliveries.id`.
    DeliveryId,
    /// A unique key with no variant of its own yet, as the database names it (its text differs
    /// between the two databases; add a variant before a caller branches on it).
    Other(String),
}

impl std::fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Self::ProducerId => "the producer id",
            Self::ProducerName => "the producer name",
            Self::ProducerKey => "the producer public key",
            Self::SessionId => "the login session id",
            Self::ApiKeyId => "the API key id",
            Self::ApiKeyName => "the API key name",
            Self::ProducerKeyPublicKey => "the public key",
            Self::ProducerKeyId => "the producer key id",
            Self::AssertionId => "the assertion id",
            Self::ObjectKey => "the object key",
            Self::DocumentId => "the document id",
            Self::PlaceholderId => "the placeholder id",
            Self::DocumentObject => "the document's object",
            Self::DeliveryId => "the delivery id",
            Self::Other(constraint) => return write!(f, "the unique key {constraint}"),
        };
        f.write_str(what)
    }
}

/// Everything the services persist: every area trait, and the migrations. Each method is
/// atomic on its own. Services hold the narrowest area trait they need (an
/// `Arc<dyn Repository>` coerces to any of them).
#[async_trait]
pub trait Repository:
    ProducerRepo
    + ApiKeyRepo
    + ProducerKeyRepo
    + AllowlistRepo
    + ObjectRepo
    + DocumentRepo
    + ViewerRepo
    + LockoutRepo
    + OAuthRepo
    + LogRepo
    + DeliveryRepo
    + NonceUseRepo
    + IdempotencyRepo
    + 'static
{
    /// Applies this database's migrations (idempotent).
    async fn migrate(&self) -> Result<(), RepoError>;
    /// One cheap round trip (`SELECT 1`): the readiness probes' database check.
    async fn ping(&self) -> Result<(), RepoError>;
    /// The connection pool now (the metrics read it at scrape time).
    fn pool_use(&self) -> PoolUse;
}

/// A connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open (idle or in use).
    pub size: u32,
    /// Open connections nobody holds.
    pub idle: u32,
}

mod allowlist;
mod api_keys;
mod areas;
pub mod delivery;
pub mod idempotency;
mod nonce_uses;
mod producer_keys;

pub use allowlist::AllowlistRepo;
pub use api_keys::{ApiKeyRecord, ApiKeyRepo, KeyRate};
pub use idempotency::IdempotencyRepo;
pub use nonce_uses::{NONCE_HASH_LEN, NonceUseRepo};
pub use producer_keys::{KeyRemoval, MAX_KEYS_PER_PRODUCER, ProducerKey, ProducerKeyRepo};

pub use areas::{
    DeliveryRepo, DocumentRepo, LockoutRepo, LogRepo, OAuthRepo, ObjectRepo, ProducerRepo,
    ViewerRepo,
};

/// Opens (creating if needed) the database named by `url` and applies its migrations.
/// `sqlite:PATH` / `sqlite://PATH` for the embedded default, `postgres://…` for PostgreSQL.
///
/// Without record keys: for tools and tests that never read viewer data; the services open
/// with [`connect_with_records`].
pub async fn connect(url: &str) -> Result<Arc<dyn Repository>, RepoError> {
    connect_with_records(url, None).await
}

/// As [`connect`], sealing and opening the documents' viewer data and secrets with `records`
/// ([`crate::cipher`]).
pub async fn connect_with_records(
    url: &str,
    records: Option<Arc<crate::cipher::RecordCipher>>,
) -> Result<Arc<dyn Repository>, RepoError> {
    let repo: Arc<dyn Repository> = if url.starts_with("sqlite:") {
        Arc::new(
            crate::sqlite::SqliteRepository::connect(url)
                .await?
                .with_records(records),
        )
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(
            crate::postgres::PgRepository::connect(url)
                .await?
                .with_records(records),
        )
    } else {
        return Err(RepoError::UnsupportedUrl(url.to_owned()));
    };
    repo.migrate().await?;
    Ok(repo)
}
