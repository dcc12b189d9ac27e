//! The hash-chain rule of the audit logs, shared by both databases and by anyone verifying an
//! export.
//!
//! Every stored line carries `prev` and `chain` (lowercase hex):
//! `chain = hex(SHA-256(prev ‖ "\n" ‖ fields))`, where `prev` enters as its 64 hex characters
//! and `fields` is the stored line (all its columns, tab-separated, UTF-8). Chains run per
//! (log, producer): `prev` is the `chain` of the producer's previous line in that log,
//! [`GENESIS`] for the first. Lines without a producer form one more chain per log. Purging old
//! lines keeps the chain heads, so after a purge the first remaining line's `prev` is the
//! `chain` of a purged line.

use ring::digest::{SHA256, digest};

/// The `prev` of the first line of every chain: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `hex(SHA-256(prev ‖ "\n" ‖ fields))`, lowercase.
pub fn chain(prev: &str, fields: &str) -> String {
    let mut input = Vec::with_capacity(prev.len() + 1 + fields.len());
    input.extend_from_slice(prev.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(fields.as_bytes());
    hex(digest(&SHA256, &input).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_is_64_zeros() {
        assert_eq!(GENESIS.len(), 64);
        assert!(GENESIS.bytes().all(|b| b == b'0'));
    }

    #[test]
    fn chain_is_sha256_of_prev_newline_fields() {
        // printf '%s\n%s' "$GENESIS" 'a\tb' | sha256sum (with a real tab)
        assert_eq!(
            chain(GENESIS, "a\tb"),
            "3076735b715544849bb0ebf13d461114314d0a813de86e748ca2a1e9bdef553d"
        );
        assert_eq!(
            chain("", ""),
            "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"
        );
    }
}
