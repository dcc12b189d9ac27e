//! `GET /producer/keys`, `POST /producer/keys`, `DELETE /producer/keys/{key_id}`: the
//! producer's public keys (issue 16, item 4).

use actix_web::web;

pub fn configure(_config: &mut web::ServiceConfig) {}
