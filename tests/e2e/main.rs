//! End-to-end tests: the real services on random ports, driven over HTTP as clients would.
//! One test binary (one link step) for the whole suite; every test runs on SQLite and on
//! PostgreSQL (`scripts/test` starts PostgreSQL and exports `SEALPOST_TEST_POSTGRES_URL`), and
//! in both wirings: the vault in the instance's process, and on its own ([`wiring`]).
#![allow(clippy::unwrap_used)]

mod active_content;
mod api_log;
mod at_rest;
mod atomicity;
mod audit_writer;
mod browser;
mod cli;
mod common;
mod conditional;
mod credentials;
mod delivery;
mod documents;
mod download_pipeline;
mod gateway;
mod gateway_cache;
mod gateway_writes;
mod handles;
mod hostile;
mod idempotency;
mod internal;
mod key_rotation;
mod links;
mod login;
mod logs_export;
mod logs_stream;
mod modes_and_expiry;
mod oauth;
mod openapi;
mod ops;
mod payload_encryption;
mod producer_cli;
mod retention;
mod rotation;
mod s3;
mod s3_wiring;
mod scaled_state;
mod secrets;
mod service_binaries;
mod shredding;
mod signed_downloads;
mod signed_responses;
mod slow_bodies;
mod small_points;
mod spec_gaps;
mod stale_handles;
mod storage;
mod telemetry;
mod tls;
mod top_secret;
mod topology;
mod updates;
mod upload_pipeline;
mod validation;
mod vault_log;
mod vault_process;
mod views;
mod wiring;
