//! The data model and its persistence.
//!
//! # Adding a query
//! Every service talks to the database through the area traits of [`repo`] (`ProducerRepo`,
//! `ObjectRepo`, `DocumentRepo`, `ViewerRepo`, `LockoutRepo`, `OAuthRepo`, `LogRepo`,
//! `DeliveryRepo`; [`Repository`] is all of them). To add a query for both databases:
//! 1. declare the method on the area trait it belongs to (`repo/areas.rs`);
//! 2. implement it once in that area's file of [`sql`] (e.g. `sql/documents.rs`), with `$1 … $n`
//!    placeholders, `sql("…").bind(…)` and the row mapping of `codec` (a portable statement
//!    runs as written on SQLite and PostgreSQL: use `CAST($n AS TEXT)` where a nullable
//!    parameter's type must be known);
//! 3. only where the databases truly differ, add a hook or fragment to [`sql::Dialect`] and
//!    implement it in [`sqlite`] and [`postgres`];
//! 4. new tables: a migration in both `migrations/sqlite` and `migrations/postgres`, listed
//!    once in `sql/migrations.rs`; then a test in the conformance suite (`tests/conformance/`),
//!    which runs every case against both databases.
//!
//! # Layout
//! - [`ids`]: typed identifiers (`DocumentId`, `PlaceholderId`, `ProducerId`, `ObjectKey`):
//!   128 random bits as 22 characters of unpadded base64url, built only through `random`/`parse`.
//! - [`model`]: the records the services keep (producers, login sessions, vault objects,
//!   documents, the gateway's view of a document, its access log and its pending OAuth /
//!   OpenID sign-ins).
//! - [`repo`]: the area traits and [`Repository`], the error type, `connect`.
//! - [`sql`]: the one implementation, `SqlRepository<D: Dialect>`, generic over the database;
//!   [`sqlite`] and [`postgres`] are the two dialects (how each is opened, its write
//!   transactions, bulk inserts and migrations). The migrations are embedded in the binary.
//! - [`lockout`]: the gateway's brute-force rules and limiter, beside their state.
//! - [`audit`]: the hash-chain rule of the three audit logs (API, gateway, vault), for the
//!   repository and for anyone verifying an export.
//! - private: `codec` (column lists, row → record mapping, sealed columns), `gateway_codec`
//!   (the gateway's rows), `log_codec` (the audit logs' numbering and chaining).
//! - `testing` (behind the `testing` feature, which only dev-dependencies turn on): helpers for
//!   tests that need a PostgreSQL database of their own.
//!
//! Times are stored as integer milliseconds since the Unix epoch in both databases, so the two
//! dialects never disagree on time zones or precision.

pub mod audit;
pub mod cipher;
mod codec;
pub mod credentials;
mod gateway_codec;
pub mod ids;
pub mod lockout;
mod log_codec;
pub mod model;
pub mod objects;
pub mod postgres;
pub mod repo;
pub mod sql;
pub mod sqlite;
pub mod tenant;
pub mod views;
// Test helpers only: kept out of release builds (`testing` is a dev-dependency feature).
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use credentials::{Environment, Scope, Scopes};
pub use ids::{DocumentId, IdError, ObjectKey, PlaceholderId, ProducerId};
pub use lockout::{Attempt, AttemptLimits, ChallengeLock, LockPolicy, Refusal, Reservation};
pub use model::{
    ApiLogRecord, ContentSignature, DocumentRecord, Download, GatewayLogLine, GatewayLogRecord,
    LogKind, LogLine, LoginSession, OAuthPending, ObjectRecord, Producer, PurgedLines,
    VaultLogRecord, ViewerDocument,
};
pub use repo::{
    AllowlistRepo, ApiKeyRepo, BoxStream, DeliveryRepo, DocumentRepo, LockoutRepo, LogRepo,
    NonceUseRepo, OAuthRepo, ObjectRepo, PoolUse, ProducerKeyRepo, ProducerRepo, RepoError,
    Repository, ViewerRepo, connect, connect_with_records,
};
pub use tenant::Tenant;
