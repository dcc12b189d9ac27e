//! The S3 wiring (issue 19, item 6; `SEALPOST_TEST_S3=1`, a pass of `scripts/test`): every
//! instance stores its objects under a prefix of its own in one bucket of the S3-protocol server
//! `scripts/test` starts (`SEALPOST_TEST_S3_ENDPOINT`; the vault's client takes endpoint and
//! credentials from the `AWS_*` variables exported beside it). [`object_keys`] then lists what
//! the store holds — objects and pending multipart uploads — so the tests' "nothing left
//! behind" checks look at the S3 server instead of a directory.
//!
//! The listings use unsigned requests and `curl` (the test server, moto, lists a bucket for
//! anyone; the callers are synchronous); reading and rewriting an object goes through boto3.

use std::path::PathBuf;
use std::process::Command;

use crate::s3::{endpoint, keys_in};

/// The environment variable choosing the S3 wiring.
pub const S3_VAR: &str = "SEALPOST_TEST_S3";
/// The one bucket of the S3 wiring; instances differ by prefix.
const BUCKET: &str = "sealpost-e2e";

/// Whether this run stores objects on the S3 server.
pub fn enabled() -> bool {
    match std::env::var(S3_VAR).as_deref() {
        Ok("1") => true,
        Ok("0") | Ok("") | Err(_) => false,
        Ok(other) => panic!("{S3_VAR}={other:?}: expected \"1\" or \"0\""),
    }
}

/// Creates `bucket` on the S3 server (an existing one is fine).
pub fn create_bucket(bucket: &str) {
    let status = curl(&["-X", "PUT", &format!("{}/{bucket}", endpoint())]);
    assert!(
        status.0 == "200" || status.0 == "409",
        "creating bucket {bucket}: {status:?}"
    );
}

/// The store setting of a new instance in the S3 wiring (none otherwise): a fresh prefix in
/// the wiring's bucket.
pub fn store_overrides() -> Vec<(&'static str, String)> {
    if !enabled() {
        return Vec::new();
    }
    create_bucket(BUCKET);
    let prefix = format!("t{:016x}", rand_u64());
    vec![("vault.store_url", format!("s3://{BUCKET}/{prefix}"))]
}

/// What an `s3://bucket/prefix` store holds: each object as `s3://bucket/key`, and each pending
/// multipart upload as `s3://bucket/key#upload` (the S3 analogue of a staging file).
pub fn object_keys(store_url: &str) -> Vec<PathBuf> {
    let rest = store_url
        .strip_prefix("s3://")
        .unwrap_or_else(|| panic!("not an s3:// store: {store_url}"));
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.trim_matches('/'))
    };
    let base = format!("{}/{bucket}", endpoint());
    let (status, listed) = curl(&[&format!("{base}?list-type=2&max-keys=1000&prefix={prefix}")]);
    assert_eq!(status, "200", "listing {store_url}: {listed}");
    assert!(
        !listed.contains("<IsTruncated>true"),
        "more than 1,000 objects"
    );
    let (status, pending) = curl(&[&format!("{base}?uploads&prefix={prefix}")]);
    assert_eq!(status, "200", "listing uploads of {store_url}: {pending}");
    let objects = (keys_in(&listed).into_iter()).map(|key| format!("s3://{bucket}/{key}"));
    let uploads = (keys_in(&pending).into_iter()).map(|key| format!("s3://{bucket}/{key}#upload"));
    objects.chain(uploads).map(PathBuf::from).collect()
}

/// The bytes of an object listed by [`object_keys`] (`s3://bucket/key`).
pub fn read_object(location: &str) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().unwrap();
    object_tool("get", location, file.path());
    std::fs::read(file.path()).unwrap()
}

/// Replaces an object listed by [`object_keys`] (the tests' tampering at the store).
pub fn write_object(location: &str, bytes: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    object_tool("put", location, file.path());
}

/// Runs `tests/s3/object.py` (boto3, signed: objects are private, unsigned requests cannot
/// read or write them).
fn object_tool(action: &str, location: &str, file: &std::path::Path) {
    let (bucket, key) = location
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .unwrap_or_else(|| panic!("not an S3 object: {location}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/s3");
    let status = Command::new(dir.join(".venv/bin/python"))
        .arg(dir.join("object.py"))
        .args([action, bucket, key])
        .arg(file)
        .status()
        .expect("running tests/s3/object.py (tests/s3/start installs its venv)");
    assert!(status.success(), "object.py {action} {location}: {status}");
}

/// Runs curl on loopback; the status code and the body.
fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("running curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_owned(), body.to_owned())
}

fn rand_u64() -> u64 {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes)
}
