//! The vault's HTTP face: `GET {vault}/h/{handle}` (issue 4). Until handles land, every path
//! answers 404.

use std::net::TcpListener;

pub fn build(listener: TcpListener, workers: usize) -> std::io::Result<actix_web::dev::Server> {
    shared::server::not_found_only(listener, workers, "no such handle")
}
