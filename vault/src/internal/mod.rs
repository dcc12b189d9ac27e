//! The internal object API other services use when the vault runs as its own process
//! (issue 4, item 3). Placeholder until it lands: no routes, so every internal path is 404.

use actix_web::web;

/// The shared secret other services present to the internal object API.
pub struct ServiceCredential(());

/// Mounts the internal object API (none yet).
pub fn routes(_config: &mut web::ServiceConfig) {}
