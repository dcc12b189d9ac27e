//! The data model and its persistence.
//!
//! # Layout
//! - [`ids`]: typed identifiers (`DocumentId`, `PlaceholderId`, `ProducerId`, `ObjectKey`):
//!   128 random bits as 22 characters of unpadded base64url, built only through `random`/`parse`.
//! - [`model`]: the records the services keep (producers, login sessions, vault objects,
//!   documents, the gateway's view of a document, its access log, its brute-force locks and its
//!   pending OAuth / OpenID sign-ins).
//! - [`repo`]: the one [`Repository`] trait every service talks to.
//! - [`audit`]: the hash-chain rule of the three audit logs (API, gateway, vault), for the
//!   repository and for anyone verifying an export.
//! - [`sqlite`] and [`postgres`]: one implementation per database, each with its own migrations
//!   (`migrations/sqlite`, `migrations/postgres`). A single conformance suite (`tests/conformance/`)
//!   runs against both so dialect drift fails a test, not a user. The migrations are embedded
//!   in the binary. What both share (column lists, row → record mapping, encodings) is in the
//!   private `codec` module (`gateway_codec` for the gateway's tables, including the lock
//!   rules; `log_codec` for the audit logs' numbering and chaining), so only the SQL text
//!   differs between the two. Each dialect's `mod.rs` holds the trait impl; the SQL of each
//!   area lives in a submodule beside it (`accounts`, `documents`, `vault`, `gateway`, `logs`,
//!   `oauth`, `migrations`).
//! - `testing` (behind the `testing` feature, which only dev-dependencies turn on): helpers for
//!   tests that need a PostgreSQL database of their own.
//!
//! Times are stored as integer milliseconds since the Unix epoch in both databases, so the two
//! dialects never disagree on time zones or precision.

pub mod audit;
pub mod cipher;
mod codec;
mod gateway_codec;
pub mod ids;
mod log_codec;
pub mod model;
pub mod objects;
pub mod postgres;
pub mod repo;
pub mod sqlite;
// Test helpers only: kept out of release builds (`testing` is a dev-dependency feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use ids::{DocumentId, IdError, ObjectKey, PlaceholderId, ProducerId};
pub use model::{
    ApiLogRecord, Attempt, AttemptLimits, ChallengeLock, ContentSignature, DocumentRecord,
    GatewayLogLine, GatewayLogRecord, LockPolicy, LogKind, LogLine, LoginSession, OAuthPending,
    ObjectRecord, Producer, PurgedLines, Refusal, Reservation, VaultLogRecord, ViewerDocument,
};
pub use repo::{BoxStream, RepoError, Repository, connect, connect_with_records};
