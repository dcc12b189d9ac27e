//! `/producer/…`: the calling producer's own settings (its public keys, its allowlist).

pub(crate) mod allowlist;
pub(crate) mod keys;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .configure(keys::configure)
        .configure(allowlist::configure);
}
