//! Brute-force limits on document requests: the rules, the policy and the [`Limiter`] live in
//! `schema::lockout`, beside the state they keep in the database.

pub use schema::lockout::{Guess, Limiter, Refusal};
