//! The baseline for `bench/gateway_requests.sh`: actix-web (the version Sealpost uses) with
//! its default worker count and one route answering "Hello world!".
//!
//!     cargo run --release --example hello_actix -- [ADDR]     # ADDR: 127.0.0.1:0 by default
//!
//! Prints `Hello: http://{bound address}` once it listens.

use actix_web::{App, HttpServer, get};

#[get("/")]
async fn hello() -> &'static str {
    "Hello world!"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let server = HttpServer::new(|| App::new().service(hello)).bind(addr)?;
    for bound in server.addrs() {
        println!("Hello: http://{bound}");
    }
    server.run().await
}
