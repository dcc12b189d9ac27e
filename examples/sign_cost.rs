//! What one signed answer costs (issue 17): the parts of `content_signature::sign` over a
//! 1,066-byte body, timed in a loop on one core, and `ring`'s Ed25519 beside the AWS-LC one
//! `shared::keys::SigningKey` uses. `bench/signed_responses.sh` measures the whole cost under
//! wrk; this says where it goes.
//!
//! Then the gateway's per-handle cost (issue 20): `HandleSigner::sign` as the gateway and
//! `examples/gateway_floor.rs` both call it (aws-lc-rs), beside the same handle bytes signed
//! with `ring`'s Ed25519 and encoded the same way, so the two libraries compare on exactly
//! the work a document request does.
//!
//!     cargo run --release --example sign_cost

use std::time::{Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schema::{DocumentId, ObjectKey};
use shared::handle::{HandleClaims, HandleSigner, Nonce, ViewerRef};
use shared::keys::SigningKey;

const ROUNDS: u32 = 20_000;

fn time(label: &str, mut work: impl FnMut()) {
    for _ in 0..ROUNDS / 10 {
        work();
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        work();
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    println!("{label:<40} {per:>8.2} µs");
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = SigningKey::load_or_create(&dir.path().join("k.pem"))?;
    let body = vec![b'x'; 1066];
    let digest = shared::hex::sha256_hex(&body);
    time("SHA-256 of the body, hex", || {
        std::hint::black_box(shared::hex::sha256_hex(std::hint::black_box(&body)));
    });
    time("HTTP date", || {
        std::hint::black_box(httpdate::fmt_http_date(SystemTime::now()));
    });
    time("key id (SHA-256 of the public key)", || {
        std::hint::black_box(key.key_id());
    });
    time("Ed25519 signature, SigningKey (aws-lc-rs)", || {
        std::hint::black_box(key.sign(std::hint::black_box(digest.as_bytes())));
    });
    let ring_pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.pkcs8_der())
        .map_err(|_| anyhow::anyhow!("ring refused the key"))?;
    time("Ed25519 signature, ring (for comparison)", || {
        std::hint::black_box(ring_pair.sign(std::hint::black_box(digest.as_bytes())));
    });
    time("content_signature::sign (all of it)", || {
        std::hint::black_box(shared::content_signature::sign(
            &key,
            SystemTime::now(),
            &digest,
        ));
    });
    handle_cost(&dir.path().join("k.pem"))
}

/// A handle as the gateway mints it, signed by each library.
fn handle_cost(pem: &std::path::Path) -> anyhow::Result<()> {
    let key = SigningKey::load_or_create(pem)?;
    let ring_pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.pkcs8_der())
        .map_err(|_| anyhow::anyhow!("ring refused the key"))?;
    let signer = HandleSigner::new(SigningKey::load_or_create(pem)?);
    let claims = HandleClaims {
        object: ObjectKey::random(),
        document: DocumentId::random(),
        access_version: 0,
        viewer: ViewerRef([7; 16]),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        nonce: Nonce::random(),
    };
    let handle = signer.sign(&claims);
    let raw = URL_SAFE_NO_PAD.decode(&handle)?;
    let signed = &raw[..raw.len() - 64];
    // The same bytes and encoding as `HandleSigner::sign`, with either library's signature.
    let with = |signature: &[u8]| {
        let mut out = Vec::with_capacity(raw.len());
        out.extend_from_slice(signed);
        out.extend_from_slice(signature);
        URL_SAFE_NO_PAD.encode(out)
    };
    anyhow::ensure!(
        with(ring_pair.sign(signed).as_ref()) == handle,
        "ring signs differently"
    );
    time("handle: HandleSigner::sign (aws-lc-rs)", || {
        std::hint::black_box(signer.sign(std::hint::black_box(&claims)));
    });
    time("handle: same bytes, aws-lc-rs, base64", || {
        std::hint::black_box(with(&key.sign(std::hint::black_box(signed))));
    });
    time("handle: same bytes, ring, base64", || {
        std::hint::black_box(with(ring_pair.sign(std::hint::black_box(signed)).as_ref()));
    });
    Ok(())
}
