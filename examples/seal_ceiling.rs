//! The ceiling of an upload's CPU work (issue 20): SHA-1 (the document's `hash`), SHA-256 (the
//! content signature) and AES-256-GCM sealing of N MiB held in memory, with the crates and the
//! chunking an upload uses (64 KiB input chunks, 64 KiB segments, ciphertext gathered into
//! 256 KiB buffers), and no network, parsing or disk.
//!
//!     cargo run --release --example seal_ceiling -- [MIB]      # default 256
//!
//! Prints one line: `single_core_mbps=… two_core_mbps=…`. Single core: the three, one after
//! the other on one thread (what an upload did before issue 20). Two cores: the upload's
//! pipeline, SHA-1 and SHA-256 each on an [`OffThreadDigest`] thread while this thread seals.
//! `bench/upload_ceiling.sh` runs it in alternation with real uploads.

use std::time::Instant;

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use sha1::Digest as _;
use vault::cipher::{Header, OffThreadDigest, SegmentEncryptor};

/// Input chunk size, as the multipart body hands chunks over (≤ 64 KiB).
const CHUNK: usize = 64 * 1024;
/// Ciphertext gathered before it is handed on (the upload's `FLUSH_AT`).
const FLUSH_AT: usize = 256 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mib: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().context("MIB must be a number")?,
        None => 256,
    };
    let data = Bytes::from(pseudo_random(mib << 20));
    // Warm-up (page faults, CPU frequency), untimed.
    single_core(&data.slice(..data.len().min(16 << 20)))?;
    let single = measure(|| async { single_core(&data) }).await?;
    let two = measure(|| two_cores(&data)).await?;
    let mbps = |(seconds, _): (f64, f64)| data.len() as f64 / seconds / 1e6;
    let cpu = |(_, cpu): (f64, f64)| cpu * 1e3 / mib as f64;
    println!(
        "single_core_mbps={:.0} two_core_mbps={:.0} single_core_cpu_ms_per_mib={:.2} two_core_cpu_ms_per_mib={:.2}",
        mbps(single),
        mbps(two),
        cpu(single),
        cpu(two)
    );
    Ok(())
}

/// Wall-clock and CPU seconds (this process, every thread) of `work`.
async fn measure<F, W>(work: W) -> anyhow::Result<(f64, f64)>
where
    W: FnOnce() -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    let (start, cpu) = (Instant::now(), cpu_seconds()?);
    work().await?;
    Ok((start.elapsed().as_secs_f64(), cpu_seconds()? - cpu))
}

/// User + system CPU time of this process so far (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = stat.rsplit_once(')').context("/proc/self/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("/proc/self/stat")?
            .parse::<f64>()?)
    };
    // Fields 14 and 15 of the whole line; the 12th and 13th after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// SHA-1, SHA-256 and seal, one after the other per chunk, on this thread.
fn single_core(data: &Bytes) -> anyhow::Result<()> {
    let mut sha1 = sha1::Sha1::new();
    let mut sha256 = shared::hex::Sha256::new();
    let mut encryptor = encryptor()?;
    let mut out = BytesMut::new();
    for chunk in data.chunks(CHUNK) {
        sha256.update(chunk);
        sha1.update(chunk);
        encryptor.update(chunk, &mut out)?;
        flush(&mut out, false);
    }
    encryptor.finish(&mut out)?;
    flush(&mut out, true);
    std::hint::black_box((sha1.finalize(), sha256.finish_hex()));
    Ok(())
}

/// The upload's pipeline: each hash on its own thread, sealing here.
async fn two_cores(data: &Bytes) -> anyhow::Result<()> {
    let sha1 = OffThreadDigest::spawn(sha1::Sha1::new());
    let sha256 = OffThreadDigest::spawn(shared::hex::Sha256::new());
    let mut encryptor = encryptor()?;
    let mut out = BytesMut::new();
    for start in (0..data.len()).step_by(CHUNK) {
        let chunk = data.slice(start..(start + CHUNK).min(data.len()));
        sha256.feed(&chunk).await;
        sha1.feed(&chunk).await;
        encryptor.update(&chunk, &mut out)?;
        flush(&mut out, false);
    }
    encryptor.finish(&mut out)?;
    flush(&mut out, true);
    std::hint::black_box((sha1.finish().await?, sha256.finish().await?));
    Ok(())
}

fn encryptor() -> anyhow::Result<SegmentEncryptor> {
    let header = Header::new(vault::DEFAULT_SEGMENT_SIZE)?;
    Ok(SegmentEncryptor::new(&[7; 32], header)?)
}

/// Hands the gathered ciphertext on (dropped here) as the upload hands it to the store.
fn flush(out: &mut BytesMut, last: bool) {
    if out.len() >= FLUSH_AT || last {
        std::hint::black_box(out.split().freeze());
    }
}

/// Bytes that do not compress or repeat (xorshift), quickly.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    data
}
