//! What one signed answer costs (issue 17): the parts of `content_signature::sign` over a
//! 1,066-byte body, timed in a loop on one core, and `ring`'s Ed25519 beside the AWS-LC one
//! `shared::keys::SigningKey` uses. `bench/signed_responses.sh` measures the whole cost under
//! wrk; this says where it goes.
//!
//!     cargo run --release --example sign_cost

use std::time::{Instant, SystemTime};

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
    Ok(())
}
