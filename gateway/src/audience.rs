//! Audience matching (spec, "Audience Specification"): which record, if any, a document
//! request's viewer token selects.
//!
//! A `records` audience is indexed once per document version: a hash map from a keyed digest
//! (HMAC-SHA256) of the viewer-token values to the record, so a request costs one lookup
//! whatever the audience size. The digest also names the viewer where it is stored (brute-force
//! counters in the database, handles); keyed, it cannot be reversed by hashing a dictionary of
//! telephone numbers or dates of birth, as a plain SHA-256 could.
//! Indexes live in a bounded cache weighed in records, keyed by document id and `last_modified`
//! (every write changes it), so a changed audience is never matched against a stale index.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use ring::hmac;
use schema::objects::{Audience, Record, parse_audience};
use schema::{DocumentId, RepoError, ViewerRepo};
use shared::handle::ViewerRef;

/// Who the viewer is, as far as the audience says.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// The document has no audience, or one whose token the spec does not check (an
    /// `octet-stream` audience, or a `records` audience whose `viewerToken` is null).
    Unnamed,
    /// The one record the viewer token selected.
    Member {
        record: Arc<Record>,
        /// The record's index in the audience (0-based): what the access log attributes the
        /// request to (`schema::views`).
        index: usize,
        /// Keyed digest of the viewer-token values ([`token_key`]): names the viewer in handles
        /// and in the limiter without putting the values, or a reversible hash of them, anywhere.
        key: [u8; 32],
    },
}

impl Viewer {
    /// The handle's viewer reference: the first half of the token digest (zero when unnamed).
    pub fn handle_ref(&self) -> ViewerRef {
        match self {
            Viewer::Unnamed => ViewerRef::default(),
            Viewer::Member { key, .. } => {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&key[..16]);
                ViewerRef(bytes)
            }
        }
    }

    pub fn record(&self) -> Option<&Record> {
        match self {
            Viewer::Unnamed => None,
            Viewer::Member { record, .. } => Some(record),
        }
    }

    /// The record's index in the audience, `None` when unnamed.
    pub fn index(&self) -> Option<usize> {
        match self {
            Viewer::Unnamed => None,
            Viewer::Member { index, .. } => Some(*index),
        }
    }
}

/// A document's audience, ready for lookups.
#[derive(Debug)]
pub enum Membership {
    /// Every holder of the document request is a viewer (see [`Viewer::Unnamed`]).
    Open,
    /// A `records` audience with a viewer token.
    Records {
        variables: Vec<String>,
        index: HashMap<[u8; 32], Slot>,
        /// The key of [`token_key`] (boxed: far larger than the other variant).
        key: Box<hmac::Key>,
    },
}

/// What an index entry holds: a record, or the fact that several records share the values
/// (the spec expects a single match; the gateway refuses to guess).
#[derive(Debug)]
pub enum Slot {
    /// The record and its index in the audience.
    One(Arc<Record>, usize),
    Ambiguous,
}

impl Membership {
    /// Indexes `audience` with the index key `key` ([`token_key`]).
    pub fn build(audience: Option<&Audience>, key: &hmac::Key) -> Self {
        let Some(Audience::Records {
            viewer_token: Some(token),
            records,
        }) = audience
        else {
            return Membership::Open;
        };
        let variables = token.variables().to_vec();
        let mut index = HashMap::with_capacity(records.len());
        for (position, record) in records.iter().enumerate() {
            let values: Vec<&str> = variables
                .iter()
                .map(|name| record.get(name).unwrap_or_default())
                .collect();
            index
                .entry(token_key(key, &values))
                .and_modify(|slot| *slot = Slot::Ambiguous)
                .or_insert_with(|| Slot::One(Arc::new(record.clone()), position));
        }
        Membership::Records {
            variables,
            index,
            key: Box::new(key.clone()),
        }
    }

    fn weight(&self) -> u64 {
        match self {
            Membership::Open => 1,
            Membership::Records { index, .. } => index.len() as u64 + 1,
        }
    }

    /// The viewer the query selects, `None` for a non-member: for a records audience every
    /// token variable must be present exactly once and the values must select exactly one
    /// record.
    pub fn find(&self, query: &[(String, String)]) -> Option<Viewer> {
        let Membership::Records {
            variables,
            index,
            key: index_key,
        } = self
        else {
            return Some(Viewer::Unnamed);
        };
        let mut values = Vec::with_capacity(variables.len());
        for name in variables {
            let mut given = query.iter().filter(|(n, _)| n == name);
            let (Some((_, value)), None) = (given.next(), given.next()) else {
                return None;
            };
            values.push(value.as_str());
        }
        let key = token_key(index_key, &values);
        match index.get(&key)? {
            Slot::One(record, index) => Some(Viewer::Member {
                record: record.clone(),
                index: *index,
                key,
            }),
            Slot::Ambiguous => None,
        }
    }

    /// The key the brute-force limits count a query that selects no member under, so a
    /// guessed viewer token locks exactly as a member's does (issue 14, finding 2): the key
    /// of the values given, or of no values when a variable is missing or repeated.
    pub fn guess_key(&self, query: &[(String, String)]) -> [u8; 32] {
        let Membership::Records { variables, key, .. } = self else {
            return [0; 32];
        };
        let values: Option<Vec<&str>> = (variables.iter())
            .map(|name| {
                let mut given = query.iter().filter(|(n, _)| n == name);
                match (given.next(), given.next()) {
                    (Some((_, value)), None) => Some(value.as_str()),
                    _ => None,
                }
            })
            .collect();
        token_key(key, &values.unwrap_or_default())
    }
}

/// HMAC-SHA256 under the gateway's index key over the values, each length-prefixed, so no two
/// value lists share a key and no one without the key can test a guess against a stored one.
pub fn token_key(key: &hmac::Key, values: &[&str]) -> [u8; 32] {
    let mut context = hmac::Context::with_key(key);
    for value in values {
        context.update(&(value.len() as u64).to_be_bytes());
        context.update(value.as_bytes());
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(context.sign().as_ref());
    digest
}

/// The audience index key: HMAC-SHA256 keyed with a secret derived from the gateway's own
/// handle-signing key (as its nonce and cookie keys are), so every gateway of an instance
/// computes the same viewer keys and no new key file needs distributing.
pub fn index_key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

#[derive(Clone)]
struct RecordWeight;

impl Weighter<(DocumentId, i64), Arc<Membership>> for RecordWeight {
    fn weight(&self, _key: &(DocumentId, i64), value: &Arc<Membership>) -> u64 {
        value.weight()
    }
}

/// Audience indexes by document version, built on first use.
pub struct AudienceCache {
    cache: Cache<(DocumentId, i64), Arc<Membership>, RecordWeight>,
    key: hmac::Key,
}

/// Why an audience could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    #[error("reading the audience")]
    Repo(#[from] RepoError),
    /// The document changed or vanished between the two reads: answer as for a missing one.
    #[error("the document changed while its audience was read")]
    Changed,
    #[error("the stored audience does not parse")]
    Corrupt,
}

impl AudienceCache {
    /// A cache holding about `max_records` indexed records, indexed under `key` ([`index_key`]).
    pub fn new(max_records: u64, key: hmac::Key) -> Self {
        let max_records = max_records.max(1);
        // quick_cache wants an estimate of the item count; a few thousand audiences is typical.
        let items = usize::try_from(max_records.min(100_000)).unwrap_or(100_000);
        Self {
            cache: Cache::with_weighter(items, max_records, RecordWeight),
            key,
        }
    }

    /// The membership of `document` at version `last_modified`.
    pub async fn membership(
        &self,
        repo: &dyn ViewerRepo,
        document: &DocumentId,
        last_modified: DateTime<Utc>,
    ) -> Result<Arc<Membership>, AudienceError> {
        let key = (document.clone(), last_modified.timestamp_millis());
        if let Some(found) = self.cache.get(&key) {
            return Ok(found);
        }
        let (value, stored_version) = repo
            .document_audience(document)
            .await?
            .ok_or(AudienceError::Changed)?;
        if stored_version != last_modified {
            return Err(AudienceError::Changed);
        }
        let audience = value
            .as_ref()
            .map(parse_audience)
            .transpose()
            .map_err(|_| AudienceError::Corrupt)?;
        let membership = Arc::new(Membership::build(audience.as_ref(), &self.key));
        self.cache.insert(key, membership.clone());
        Ok(membership)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn records_audience(token: &str, records: serde_json::Value) -> Audience {
        parse_audience(
            &json!({"type": "records", "viewerToken": token, "data": {"records": records}}),
        )
        .unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn selects_exactly_one_record() {
        let audience = records_audience(
            "{?telephone,first_name}",
            json!([
                {"telephone": "1", "first_name": "Ann", "pw": "a"},
                {"telephone": "2", "first_name": "Bob", "pw": "b"},
                {"telephone": "2", "first_name": "Bob", "pw": "c"},
            ]),
        );
        let membership = Membership::build(Some(&audience), &test_key());
        let found = membership
            .find(&query(&[
                ("first_name", "Ann"),
                ("telephone", "1"),
                ("x", "y"),
            ]))
            .unwrap();
        assert_eq!(found.record().unwrap().get("pw"), Some("a"));
        assert_eq!(found.index(), Some(0));
        // Duplicated records, a missing variable, a repeated one, a wrong value: no member.
        assert!(
            membership
                .find(&query(&[("telephone", "2"), ("first_name", "Bob")]))
                .is_none()
        );
        assert!(membership.find(&query(&[("telephone", "1")])).is_none());
        assert!(
            membership
                .find(&query(&[
                    ("telephone", "1"),
                    ("telephone", "1"),
                    ("first_name", "Ann")
                ]))
                .is_none()
        );
        assert!(
            membership
                .find(&query(&[("telephone", "1"), ("first_name", "ann")]))
                .is_none()
        );
    }

    fn test_key() -> hmac::Key {
        index_key(b"test index key")
    }

    #[test]
    fn values_cannot_be_shifted_between_fields() {
        let key = test_key();
        assert_ne!(token_key(&key, &["ab", "c"]), token_key(&key, &["a", "bc"]));
        assert_ne!(token_key(&key, &[""]), token_key(&key, &[]));
    }

    #[test]
    fn the_key_is_keyed_not_a_plain_hash() {
        // A plain SHA-256 of the length-prefixed values (what a dictionary could reverse) is
        // not the stored key, and another gateway key gives another viewer key.
        let values = ["+1-555-0199-7741"];
        let mut plain = ring::digest::Context::new(&ring::digest::SHA256);
        plain.update(&(values[0].len() as u64).to_be_bytes());
        plain.update(values[0].as_bytes());
        let keyed = token_key(&test_key(), &values);
        assert_ne!(plain.finish().as_ref(), &keyed[..]);
        assert_ne!(keyed, token_key(&index_key(b"another gateway"), &values));
        assert_eq!(keyed, token_key(&test_key(), &values));
    }

    #[test]
    fn unchecked_audiences_admit_everyone() {
        let octet =
            parse_audience(&json!({"type": "octet-stream", "viewerToken": "{?e}", "data": "AAAA"}))
                .unwrap();
        assert!(matches!(
            Membership::build(Some(&octet), &test_key()).find(&[]),
            Some(Viewer::Unnamed)
        ));
        assert!(matches!(
            Membership::build(None, &test_key()).find(&[]),
            Some(Viewer::Unnamed)
        ));
    }
}
