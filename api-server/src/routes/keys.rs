//! `POST /keys`, `GET /keys`, `DELETE /keys/{name}`: the producer's API keys (issue 16).

use actix_web::web;

pub fn configure(_config: &mut web::ServiceConfig) {}
