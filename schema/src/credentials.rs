//! The vocabulary of producer credentials (DESIGN, "Producer credentials and environments"):
//! the scopes a credential holds and the environment it acts in. Stored as text (`"read
//! write"`, `"live"`), decoded once when a row is read.

use std::fmt;
use std::str::FromStr;

/// What a credential may do. Every producer route declares the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// GET documents, parts, content, browse.
    Read,
    /// Create, update, PUT and DELETE of documents and parts, links, locks.
    Write,
    /// Deliver and delivery status.
    Deliver,
    /// `GET /logs`, view reports.
    Logs,
    /// API keys, producer keys, the allowlist.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Write,
        Scope::Deliver,
        Scope::Logs,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Deliver => "deliver",
            Scope::Logs => "logs",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Scope`]s. Stored as the scopes' names separated by single spaces, in the order of
/// [`Scope::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// What a login token holds.
    pub const ALL: Scopes = Scopes(0b1_1111);
    pub const NONE: Scopes = Scopes(0);

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn with(self, scope: Scope) -> Self {
        Scopes(self.0 | scope.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Scopes::NONE, Scopes::with)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

/// An unknown scope or environment name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

impl FromStr for Scopes {
    type Err = UnknownName;

    /// Names separated by spaces (the stored form); repeats are harmless.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split_whitespace()
            .map(|name| {
                Scope::parse(name).ok_or_else(|| UnknownName {
                    what: "scope",
                    name: name.to_owned(),
                })
            })
            .collect()
    }
}

/// Live or test data (seed 000): a credential acts in one, a document belongs to one, and one
/// never sees the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Environment {
    #[default]
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "live" => Ok(Environment::Live),
            "test" => Ok(Environment::Test),
            _ => Err(UnknownName {
                what: "environment",
                name: text.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_stored_form() {
        let scopes: Scopes = "write read".parse().unwrap();
        assert_eq!(scopes.to_string(), "read write");
        assert!(scopes.contains(Scope::Read) && !scopes.contains(Scope::Admin));
        assert_eq!(Scopes::ALL.to_string(), "read write deliver logs admin");
        assert_eq!(Scopes::ALL.to_string().parse::<Scopes>(), Ok(Scopes::ALL));
        assert_eq!("".parse::<Scopes>(), Ok(Scopes::NONE));
        assert!("read root".parse::<Scopes>().is_err());
    }

    #[test]
    fn environments_parse_exactly() {
        assert_eq!("test".parse::<Environment>(), Ok(Environment::Test));
        assert!("Live".parse::<Environment>().is_err());
        assert_eq!(Environment::default().as_str(), "live");
    }
}
