//! The internal object API: how the other services store, read and delete objects when the
//! vault runs as its own process (`vault` binary). `sealpost up` shares the [`crate::Vault`]
//! in-process instead and leaves this API unmounted.
//!
//! # Layout
//! - [`credential`]: [`ServiceCredential`], the shared secret every call must carry.
//! - [`frames`]: the upload body's framing, so a caller can abandon an upload and still learn
//!   when the vault has cleaned up.
//! - [`routes`](mod@routes): the handlers under `/internal/v1/objects` (mounted only with a credential).
//! - [`error`]: the API's one error type.
//! - [`client`]: [`RemoteVault`], the caller's side, with the in-process vault's semantics.
//!
//! # Atomicity across the process boundary
//! An upload's object is created by the vault but committed to by the caller (its document
//! record). The caller deletes it when its record does not commit ([`RemoteObject`] deletes on
//! drop unless kept), and a failed or abandoned upload is deleted by the vault before it
//! answers. What a crash leaves in between (a caller dying after the vault answered, an answer
//! lost on the way) is an object no document references: the vault's orphan sweep removes it
//! once it is older than `vault.orphan_grace_secs`, which a separately running vault keeps
//! above the longest upload plus commit (see [`crate::standalone`]).

pub mod client;
pub mod credential;
pub mod error;
pub mod frames;
pub mod routes;

pub use client::{RemoteError, RemoteObject, RemoteVault};
pub use credential::{CredentialError, ServiceCredential};
pub use routes::routes;
