//! The `sealpost` command line and the composition of the three services.
//!
//! # Layout
//! - [`cli`]: the command-line contract (DESIGN.md, "Command-line contract").
//! - [`client`]: the producer's commands (`upload`, `links`, `deliver`, `logs get`, `get`)
//!   against a remote instance.
//! - [`instance`]: `sealpost up`: one process running the API server, the gateway and the vault
//!   on the embedded defaults, built with the same `build` functions the tests call.
//! - [`logs`]: `sealpost logs verify`, the offline check of a `GET /logs` export.
//! - [`producers`]: creating producers and their keys.
//! - [`rotation`]: `sealpost vault rotate-key`.

pub mod cli;
pub mod client;
pub mod instance;
pub mod logs;
pub mod producers;
pub mod receipt;
pub mod rotation;
