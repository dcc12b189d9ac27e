//! `GET /producer/allowlist`, `PUT /producer/allowlist`: the producer's IP allowlist
//! (issue 16, item 5).

use actix_web::web;

pub fn configure(_config: &mut web::ServiceConfig) {}
