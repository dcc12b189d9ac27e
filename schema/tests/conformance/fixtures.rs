//! Records to store, built fresh for each test (random ids, times at millisecond precision).

use chrono::{DateTime, Duration, Utc};
use schema::objects::{SpecObject, Typed};
use schema::repo::UniqueKey;
use schema::{
    DocumentId, DocumentRecord, LoginSession, ObjectKey, ObjectRecord, PlaceholderId, Producer,
    ProducerId, RepoError, Repository,
};
use serde_json::json;

/// Now, at the precision the databases keep.
pub(crate) fn now() -> DateTime<Utc> {
    at(Utc::now().timestamp_millis())
}

pub(crate) fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

pub(crate) fn producer(name: &str) -> Producer {
    Producer {
        id: ProducerId::random(),
        name: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        // Unique per call; the repository does not care that it is not a real Ed25519 key.
        public_key: ObjectKey::random().as_str().as_bytes()[..16].repeat(2),
        created_at: now(),
    }
}

pub(crate) fn pending_object(created_at: DateTime<Utc>) -> ObjectRecord {
    ObjectRecord {
        key: ObjectKey::random(),
        kek_id: "kek-1".to_owned(),
        wrapped_dek: vec![0, 1, 2, 254, 255],
        size: None,
        sha1: None,
        created_at,
    }
}

pub(crate) fn document(producer: &ProducerId, object: &ObjectKey) -> DocumentRecord {
    DocumentRecord {
        id: DocumentId::random(),
        producer_id: producer.clone(),
        placeholder_id: PlaceholderId::random(),
        name: "report – Q3 ✓.pdf".to_owned(),
        media_type: "application/pdf".to_owned(),
        object_key: object.clone(),
        size: 1234,
        hash_algorithm: "SHA-1".to_owned(),
        hash_value: "da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned(),
        expiration: now() + Duration::days(365),
        // The spec objects are typed: each must parse (the repository parses them on reading).
        audience: typed(json!({"type": "records", "viewerToken": "{?email_address}",
            "data": {"records": [{"email_address": "zoë@example.com", "note": "🦀 tab\there"}]}})),
        challenge: typed(
            json!({"type": "HTTP-Auth", "data": {"realm": "Acme statements",
            "scheme": "basic", "access": {"type": "literal", "value": "s3cret"}}}),
        ),
        fulfillment: typed(
            json!({"type": "http", "href": "https://x.example/{?link}", "batch": false}),
        ),
        landingpage: typed(json!({"type": "url", "href": "https://landing.example/"})),
        metadata: Some(json!({"n": 1.5, "nested": [null, true, "tab\there"]})),
        created_at: now(),
        last_modified: now(),
        // Not the column's default, so a round trip proves it is written and read.
        access_version: 7,
        environment: schema::Environment::Live,
    }
}

/// A spec object parsed from its JSON (the test's own, so it must parse).
pub(crate) fn typed<T: SpecObject>(json: serde_json::Value) -> Option<Typed<T>> {
    Some(Typed::parse(json).unwrap())
}

/// A producer, an object and a document of theirs, all inserted.
pub(crate) async fn stored_document(repo: &dyn Repository, name: &str) -> DocumentRecord {
    let owner = producer(name);
    repo.insert_producer(&owner).await.unwrap();
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let doc = document(&owner.id, &object.key);
    repo.insert_document(&doc).await.unwrap();
    doc
}

/// The write was refused as a conflict on exactly the key `what`, the same on both databases.
pub(crate) fn assert_conflict(result: Result<(), RepoError>, what: UniqueKey) {
    match result {
        Err(RepoError::Conflict { what: got }) => assert_eq!(got, what),
        other => panic!("expected a conflict on {what}, got {other:?}"),
    }
}

pub(crate) fn session(
    producer: &ProducerId,
    issued_at: DateTime<Utc>,
    ttl: Duration,
) -> LoginSession {
    LoginSession {
        jti: DocumentId::random().to_string(),
        producer_id: producer.clone(),
        email: "operator@example.com".to_owned(),
        issued_at,
        expires_at: issued_at + ttl,
        revoked_at: None,
        key_id: None,
        environment: schema::Environment::Live,
    }
}
