//! The floor of a gateway document request's own CPU work, for `bench/gateway_requests.sh`:
//! actix-web (default workers) answering `GET /{placeholder}?email=…` as the gateway does for
//! a no-challenge document with a records audience — find the viewer by the SHA-256 of the
//! token value in an in-memory index of 10,000 records, mint an Ed25519-signed handle (the
//! vault's format, [`shared::handle`]) with a fresh nonce through the gateway's own
//! [`HandleSigner`] (aws-lc-rs; `examples/sign_cost.rs` times it against `ring`), answer 303 to
//! it — and nothing else:
//! no database lookup, no audit record, no request tracing. What the real gateway adds on top
//! is the durable, fail-closed audit record and the placeholder lookup in the database.
//!
//!     cargo run --release --example gateway_floor -- [ADDR]     # 127.0.0.1:0 by default
//!
//! Prints `Floor: http://{bound address}/{placeholder}?email=v9999%40x` once it listens.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{Duration, Utc};
use schema::{DocumentId, ObjectKey};
use shared::handle::{HandleClaims, HandleSigner, Nonce, ViewerRef};
use shared::keys::SigningKey;

struct Floor {
    signer: HandleSigner,
    /// SHA-256 of a viewer's token value → the viewer's reference (the audience index).
    audience: HashMap<String, ViewerRef>,
    document: DocumentId,
    object: ObjectKey,
}

async fn request(request: HttpRequest, floor: web::Data<Arc<Floor>>) -> HttpResponse {
    let query = web::Query::<HashMap<String, String>>::from_query(request.query_string());
    let email = query.ok().and_then(|query| query.get("email").cloned());
    let Some(viewer) = email.and_then(|email| {
        floor
            .audience
            .get(&shared::hex::sha256_hex(email.as_bytes()))
    }) else {
        return HttpResponse::Forbidden().finish();
    };
    let handle = floor.signer.sign(&HandleClaims {
        object: floor.object.clone(),
        document: floor.document.clone(),
        access_version: 0,
        viewer: *viewer,
        expires_at: Utc::now() + Duration::minutes(5),
        nonce: Nonce::random(),
    });
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("http://127.0.0.1:1/h/{handle}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let key = SigningKey::generate().map_err(std::io::Error::other)?;
    let audience = (0..10_000)
        .map(|n| {
            let email = format!("v{n}@x");
            let mut viewer = [0u8; 16];
            viewer[..8].copy_from_slice(&u64::to_be_bytes(n));
            (shared::hex::sha256_hex(email.as_bytes()), ViewerRef(viewer))
        })
        .collect();
    let floor = Arc::new(Floor {
        signer: HandleSigner::new(key),
        audience,
        document: DocumentId::random(),
        object: ObjectKey::random(),
    });
    let placeholder = DocumentId::random();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(floor.clone()))
            .route("/{placeholder}", web::get().to(request))
    })
    .bind(addr)?;
    for bound in server.addrs() {
        println!("Floor: http://{bound}/{placeholder}?email=v9999%40x");
    }
    server.run().await
}
