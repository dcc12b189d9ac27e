//! The vault: document contents, encrypted at rest, streamed in and out in constant memory.
//!
//! # Layout
//! - [`cipher`]: the object format — a 16-byte header, then AES-256-GCM segments in the STREAM
//!   construction (per-segment counter nonce with a last-segment flag). Pure functions, no I/O.
//! - [`keyring`]: the key-encryption keys (a 0600 JSON file) that wrap each object's data key.
//! - [`rotate`]: key rotation (`sealpost vault rotate-key`), live or offline, resumable.
//! - `store`: [`Vault`] over an `object_store` (local directory or S3-compatible) and the
//!   [`schema::Repository`]: [`Vault::put`] (streaming, abortable upload returning a
//!   [`PendingObject`]), [`Vault::read`] / [`Vault::read_range`] (verified [`ObjectReader`]),
//!   [`Vault::delete`], [`Vault::sweep`] (start-up clean-up).
//! - [`error`]: the one error type, [`VaultError`].
//! - [`access_log`]: the vault access log, one record per request, written in batches.
//! - [`http`]: the vault's HTTP face (the only module that knows actix-web).
//! - [`internal`]: the internal object API other services use when the vault is its own
//!   process: the service credential, the handlers and [`internal::RemoteVault`], their client.
//! - [`standalone`]: the vault as its own process (the `vault` binary in `main.rs`), and
//!   [`standalone::serve`], the served vault with its access log that `sealpost up` shares; both
//!   return a [`shared::service::Running`].
//!
//! # Why it is built this way
//! - **One random data key per object**, wrapped by a key-encryption key only the vault holds.
//!   The wrapped key lives in the object's database row, never beside the ciphertext: a copy of
//!   the object store alone is useless, and deleting the row crypto-shreds the object even where
//!   the blob survives (backups, a failed delete, an S3 version). Rotating the KEK rewraps rows
//!   and never touches content.
//! - **Fixed-size segments** (64 KiB by default, recorded in each object's header) so uploads and
//!   downloads stream in bounded memory and a Range request decrypts only the segments it needs,
//!   while every byte handed out has been authenticated.
//! - **Typed keys only**: objects are named by [`schema::ObjectKey`], never by user text.
//! - **Nothing half-done survives**: rows are written before blobs, deleted before blobs, failed
//!   or dropped uploads clean up after themselves, and [`Vault::sweep`] catches what a crash left.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access_log;
pub mod cipher;
pub mod error;
pub mod http;
pub mod internal;
pub mod keyring;
mod pending;
pub mod rotate;
pub mod standalone;
mod store;

pub use cipher::DEFAULT_SEGMENT_SIZE;
pub use error::VaultError;
pub use keyring::Keyring;
pub use pending::{ObjectOwner, PendingObject};
pub use store::{ObjectReader, SweepReport, Vault};
