//! The viewer-facing gateway.
//!
//! # Layout
//! - [`challenge`]: HTTP Basic and Digest (RFC 7617, RFC 7616) primitives.
//! - [`build`]: turns a bound listener into the running gateway; `sealpost up` and tests call it.
//!
//! Until document requests land (issue 5) every path answers 404, so nothing is learned about
//! which placeholders exist.

pub mod challenge;

use std::net::TcpListener;

pub fn build(listener: TcpListener, workers: usize) -> std::io::Result<actix_web::dev::Server> {
    shared::server::not_found_only(listener, workers, "no such document")
}
