//! Typed identifiers.
//!
//! Every identifier is 128 random bits from the operating system's CSPRNG, written as 22
//! characters of unpadded base64url. They are monikers: never derived from names, ids or
//! content, so knowing one tells nothing about another. `parse` accepts exactly that shape,
//! which also makes every identifier safe to use as a URL segment or an object-store path.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// Length of an encoded identifier: 16 bytes in unpadded base64url.
const ENCODED_LEN: usize = 22;

/// The text given is not a well-formed identifier.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed identifier")]
pub struct IdError;

fn random_text() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn is_well_formed(text: &str) -> bool {
    text.len() == ENCODED_LEN
        && URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|bytes| bytes.len() == 16 && URL_SAFE_NO_PAD.encode(&bytes) == text)
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh identifier of 128 random bits.
            pub fn random() -> Self {
                Self(random_text())
            }

            /// Accepts exactly 22 characters of canonical unpadded base64url.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                if is_well_formed(text) { Ok(Self(text.to_owned())) } else { Err(IdError) }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }
    };
}

identifier!(
    /// A document's moniker (`docId`), the name producers use in the API.
    DocumentId
);
identifier!(
    /// The gateway-facing name of a document, replaced on every `POST /documents/{docId}`.
    PlaceholderId
);
identifier!(
    /// A producer (tenant); every query is scoped by it.
    ProducerId
);
identifier!(
    /// The name of an encrypted object in the store; unrelated to any name or id.
    ObjectKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_back() {
        let id = DocumentId::random();
        assert_eq!(DocumentId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn rejects_wrong_shapes() {
        for bad in [
            "",
            "short",
            "../../../../etc/passwd",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(DocumentId::parse(bad), Err(IdError), "{bad:?}");
        }
        assert!(DocumentId::parse("AAAAAAAAAAAAAAAAAAAAAA").is_ok());
    }
}
