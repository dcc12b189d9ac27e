//! The spec's "Challenge Specification": HTTP Basic and Digest (this module), OAuth (issue 6).

pub mod auth_params;
pub mod digest;
