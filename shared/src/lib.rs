//! What every Sealpost service needs.
//!
//! # Layout
//! - [`config`]: typed, layered settings (defaults ← `sealpost.toml` ← `SEALPOST__SECTION__KEY`).
//! - [`problem`]: RFC 9457 `application/problem+json` bodies.
//! - [`private_file`]: key files written atomically with mode 0600 and refused when others can read them.
//! - [`keys`]: Ed25519 key material: the instance signing key and producers' PEM keys.
//! - [`handle`]: the signed, short-lived `{vault}/h/{handle}` tokens (mint and verify).
//! - [`token`]: login tokens (JWTs signed with the instance key, one id each so logout can revoke).
//! - [`telemetry`]: tracing set-up and the redaction policy.
//! - [`record_keys`]: the record key file (viewer data and secrets sealed in the database).
//! - [`sealed`]: sealed links (`{gateway}/l/{sealed}`): AEAD-encrypted document requests.
//! - [`logline`]: access-log lines (tab-separated, escaped, `-` for absent values).
//! - [`group_commit`]: one transaction for many requests' records (the fail-closed audit logs,
//!   delivery attempts).
//! - [`logzip`]: audit-log exports (`GET /logs`): the signed zip, its writer, its verifier.
//! - [`content_signature`]: content signing, the `x-sealpost-signature` headers over a body's
//!   SHA-256 (records, stored content, exports): sign and verify.
//! - [`published_keys`]: the instance's public keys (`GET /.well-known/sealpost-keys`) that
//!   signed content and exports are checked against.
//! - [`e2e`]: `sealpost-e2e-v1`, the producer-encrypted format of top-secret documents.
//! - [`hex`]: lowercase hex and SHA-256 digests as hex.
//! - [`secret_eq`]: comparing secrets in constant time, whatever their lengths.
//! - [`client_addr`]: whose address a request comes from (the peer, or what trusted proxies
//!   say): the one rule of the allowlist, the gateway's address limits and every log.
//! - [`egress`]: the egress policy of every request made on a producer's behalf (SSRF defence).
//! - [`ops`]: health and readiness probes, Prometheus metrics on the admin address.
//! - [`server`]: small helpers every HTTP server applies (Nagle off, no signal handling of its own).
//! - [`service`]: one start/stop shape for every service ([`service::Running`]): servers,
//!   sweepers and audit writers stopped in the order that loses no record.
//! - [`tls`]: HTTPS built in (rustls, certificate reloaded on SIGHUP, HSTS) and the refusal of
//!   plain HTTP on a non-loopback address.

pub mod client_addr;
pub mod config;
pub mod content_signature;
pub mod e2e;
pub mod egress;
pub mod group_commit;
pub mod handle;
pub mod hex;
pub mod keys;
pub mod logline;
pub mod logzip;
pub mod ops;
pub mod private_file;
pub mod problem;
pub mod published_keys;
pub mod receipt;
pub mod record_keys;
pub mod sealed;
pub mod secret_eq;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod tls;
pub mod token;

pub use problem::Problem;
