//! Issue 16: see `credentials/mod.rs`.
