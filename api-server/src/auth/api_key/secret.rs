//! The API key itself: its format, its checksum, and its argon2id hash.
//!
//! A key reads `sp_{live|test}_{keyId}_{secret}`: `keyId` is 20 base62 characters (≈119
//! random bits, the row's primary key), `secret` 44 random base62 characters (≈262 bits, from
//! `ring`'s `SystemRandom`) followed by six more, the base62 CRC32 of everything before them,
//! as GitHub's tokens carry: a secret scanner (or this server, before any database read)
//! recognises a well-formed key without false alarms, and a mistyped one is refused at once.
//! Base62 keeps the key one "word" (no `_` or `-` inside a part), so a double click selects
//! it whole and the parts split on `_` unambiguously.
//!
//! # Why argon2id, not bcrypt (seed 002 says bcrypt)
//! Only argon2id of the whole key string is stored (a PHC string: algorithm, cost and salt
//! travel with the hash, so the cost can be raised later without breaking stored keys).
//! bcrypt reads at most 72 bytes of its input and ignores the rest: a key is 79 bytes, so
//! bcrypt would silently drop the end of the secret and the checksum. argon2id is memory-hard
//! (a GPU or ASIC gains little over a CPU), is the winner of the Password Hashing Competition
//! and is OWASP's first recommendation; RustCrypto's `argon2` is a maintained pure-Rust crate.
//!
//! # Cost: m = 19 MiB, t = 2, p = 1
//! OWASP's baseline for argon2id. A key holds 256 random bits, so no cost makes guessing it
//! any easier or harder: the hash is there so that a copy of the database is not a list of
//! working keys, and the cost only needs to be honest, not huge. What bounds it from above is
//! the server: each verification that misses the in-memory cache ([`super::Verifier`]) takes
//! 19 MiB and ≈20 ms of one core (measured here, release build; more on a busy machine), on a
//! blocking thread, at most one per core at a time.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom as _, SystemRandom};
use schema::Environment;
use zeroize::Zeroizing;

use crate::error::ApiError;

/// `keyId` length, in base62 characters.
pub const ID_LEN: usize = 20;
/// Random characters of the secret: 44 × log2(62) ≈ 262 bits, at least the 256 DESIGN asks.
const RANDOM_LEN: usize = 44;
/// The checksum's characters: base62 of a CRC32 (62^6 > 2^32).
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// argon2id memory, in KiB (19 MiB), passes and lanes: see the module docs.
pub const ARGON2_M_KIB: u32 = 19 * 1024;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

/// A freshly made key: its id, and the key to hand back once.
pub struct NewKey {
    pub id: String,
    pub key: Zeroizing<String>,
}

/// What the shape of a presented key says (nothing is verified yet but the checksum).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub environment: Environment,
    pub id: &'a str,
}

/// A new key for `environment`.
pub fn generate(environment: Environment) -> Result<NewKey, ApiError> {
    let id = random_base62(ID_LEN)?;
    let secret = Zeroizing::new(random_base62(RANDOM_LEN)?);
    let mut key = Zeroizing::new(format!("sp_{environment}_{id}_{}", secret.as_str()));
    let sum = checksum(&key);
    key.push_str(&sum);
    Ok(NewKey { id, key })
}

/// Reads a presented key: `None` unless it has the shape and a matching checksum.
pub fn parse(key: &str) -> Option<Parsed<'_>> {
    let rest = key.strip_prefix("sp_")?;
    let (environment, rest) = rest.split_once('_')?;
    let environment = environment.parse().ok()?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    if !well_formed(id, ID_LEN) || !well_formed(secret, RANDOM_LEN + CHECKSUM_LEN) {
        return None;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    (checksum(body) == sum).then_some(Parsed { environment, id })
}

/// The six base62 characters of the CRC32 of `body`, most significant first (public for
/// secret scanners' tests and the end-to-end suite, which forge well-formed wrong keys).
pub fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// `len` uniformly random base62 characters (bytes ≥ 248 are drawn again, so `% 62` is fair).
fn random_base62(len: usize) -> Result<String, ApiError> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buffer = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        rng.fill(buffer.as_mut())
            .map_err(|_| ApiError::internal("the system random generator failed"))?;
        for &byte in buffer.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(BASE62[usize::from(byte % 62)]));
        }
    }
    Ok(out)
}

fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None).map_err(ApiError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The argon2id PHC string of `key`, with a fresh 128-bit salt, on a blocking thread.
pub async fn hash(key: Zeroizing<String>) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| ApiError::internal("the system random generator failed"))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
        let hash = hasher()?
            .hash_password(key.as_bytes(), &salt)
            .map_err(ApiError::internal)?;
        Ok(hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
}

/// Whether `key` matches the stored PHC string `stored` (constant-time, inside `argon2`), on a
/// blocking thread. A stored value that does not parse is a corrupt row: 500.
pub async fn verify(key: Zeroizing<String>, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(ApiError::internal)?;
        Ok(hasher()?.verify_password(key.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment_and_id() {
        for environment in [Environment::Live, Environment::Test] {
            let new = generate(environment).unwrap();
            let parsed = parse(&new.key).unwrap();
            assert_eq!(
                parsed,
                Parsed {
                    environment,
                    id: &new.id
                }
            );
            assert_eq!(
                new.key.len(),
                3 + 5 + ID_LEN + 1 + RANDOM_LEN + CHECKSUM_LEN
            );
            assert!(new.key.starts_with(&format!("sp_{environment}_")));
        }
        assert_ne!(
            *generate(Environment::Live).unwrap().key,
            *generate(Environment::Live).unwrap().key
        );
    }

    #[test]
    fn a_changed_character_or_shape_is_refused() {
        let key = generate(Environment::Live).unwrap().key;
        for at in [3, 10, key.len() - 10, key.len() - 1] {
            let mut bytes = key.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            assert_eq!(parse(std::str::from_utf8(&bytes).unwrap()), None, "at {at}");
        }
        assert_eq!(parse(&key[..key.len() - 1]), None);
        assert_eq!(parse(&format!("{}x", key.as_str())), None);
        assert_eq!(parse(&key.replacen("live", "prod", 1)), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("sp_live__"), None);
    }

    #[test]
    fn the_checksum_is_six_base62_characters() {
        assert_eq!(checksum(""), "000000");
        let sum = checksum("sp_live_x");
        assert_eq!(sum.len(), 6);
        assert!(sum.bytes().all(|b| b.is_ascii_alphanumeric()));
        // u32::MAX fits: 62^6 > 2^32.
        assert!(62u64.pow(6) > u64::from(u32::MAX));
    }

    #[tokio::test]
    async fn hashes_verify_only_their_key() {
        let new = generate(Environment::Test).unwrap();
        let stored = hash(new.key.clone()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!stored.contains(new.key.as_str()));
        assert!(verify(new.key.clone(), stored.clone()).await.unwrap());
        let other = generate(Environment::Test).unwrap();
        assert!(!verify(other.key, stored).await.unwrap());
    }
}
