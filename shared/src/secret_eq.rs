//! Comparing secrets without telling their length or content through timing.
//!
//! `subtle`'s `ct_eq` on byte slices returns at once when the lengths differ, so comparing a
//! guess with a secret of unknown length tells the length. [`ct_eq_digest`] compares the
//! SHA-256 digests of both sides instead: always 32 bytes, always compared whole (issue 14,
//! finding 9).

use subtle::ConstantTimeEq as _;

/// Whether `a` and `b` are equal, in time that depends on neither's content and only on their
/// lengths through hashing (which reveals nothing a comparison could).
pub fn ct_eq_digest(a: &[u8], b: &[u8]) -> bool {
    let a = ring::digest::digest(&ring::digest::SHA256, a);
    let b = ring::digest::digest(&ring::digest::SHA256, b);
    bool::from(a.as_ref().ct_eq(b.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::ct_eq_digest;

    #[test]
    fn equal_only_when_equal() {
        assert!(ct_eq_digest(b"Pa55w0rd!", b"Pa55w0rd!"));
        assert!(ct_eq_digest(b"", b""));
        assert!(!ct_eq_digest(b"Pa55w0rd!", b"Pa55w0rd?"));
        assert!(!ct_eq_digest(b"Pa55w0rd!", b"Pa55w0rd"));
        assert!(!ct_eq_digest(b"Pa55w0rd", b"Pa55w0rd!"));
        assert!(!ct_eq_digest(b"", b"x"));
    }
}
