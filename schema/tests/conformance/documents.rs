//! Documents: round trips (JSON, times), tenant scoping, paging, deletion with its object.

use std::sync::Arc;

use chrono::Duration;
use schema::repo::UniqueKey;
use schema::{DocumentId, DocumentRecord, ObjectKey, ProducerId, RepoError, Repository};
use serde_json::json;

use crate::fixtures::{
    assert_conflict, at, document, now, pending_object, producer, session, stored_document,
};

conformance!(
    document_round_trip,
    json_columns_round_trip_including_none,
    timestamps_round_trip_at_millisecond_precision,
    other_producer_cannot_see_document,
    list_documents_pages_in_id_order,
    delete_document_removes_record_and_object,
    delete_of_other_producers_document_deletes_nothing,
    duplicate_document_keys_conflict,
    document_needs_existing_producer_and_object,
);

async fn document_round_trip(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert_eq!(
        repo.document(
            &schema::Tenant::live(doc.producer_id.clone()),
            &DocumentId::random()
        )
        .await
        .unwrap(),
        None
    );
}

async fn json_columns_round_trip_including_none(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let values = [
        None,
        Some(json!(null)),
        Some(json!({})),
        Some(json!([])),
        Some(json!("a string with 'quotes' and \"doubles\"")),
        Some(
            json!({"unicode": "Zoë 🦀", "deep": {"a": [1, 2, {"b": -3}]}, "big": 9_007_199_254_740_993_i64}),
        ),
    ];
    for value in values {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        // The spec objects are typed (only a valid object fits there): absent beside an
        // absent metadata, the fixture's otherwise; the metadata takes any JSON.
        let full = document(&alice.id, &object.key);
        let present = value.is_some();
        let doc = DocumentRecord {
            audience: full.audience.clone().filter(|_| present),
            challenge: full.challenge.clone().filter(|_| present),
            fulfillment: full.fulfillment.clone().filter(|_| present),
            landingpage: full.landingpage.clone().filter(|_| present),
            metadata: value.clone(),
            ..full
        };
        repo.insert_document(&doc).await.unwrap();
        assert_eq!(
            repo.document(&schema::Tenant::live(alice.id.clone()), &doc.id)
                .await
                .unwrap(),
            Some(doc),
            "{value:?}"
        );
    }
}

async fn timestamps_round_trip_at_millisecond_precision(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let object = pending_object(at(-1)); // just before the epoch
    repo.insert_object(&object).await.unwrap();
    assert_eq!(
        repo.object(&object.key).await.unwrap().unwrap().created_at,
        at(-1)
    );

    let precise = at(1_700_000_000_123) + Duration::nanoseconds(456_789);
    let doc = DocumentRecord {
        created_at: precise,
        last_modified: at(1_700_000_000_999),
        expiration: at(253_402_300_799_999), // 9999-12-31T23:59:59.999Z
        ..document(&alice.id, &object.key)
    };
    repo.insert_document(&doc).await.unwrap();
    let back = repo
        .document(&schema::Tenant::live(alice.id.clone()), &doc.id)
        .await
        .unwrap()
        .unwrap();
    // Sub-millisecond precision is dropped, never rounded up.
    assert_eq!(back.created_at, at(1_700_000_000_123));
    assert_eq!(back.last_modified, at(1_700_000_000_999));
    assert_eq!(back.expiration, at(253_402_300_799_999));
}

async fn other_producer_cannot_see_document(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let bob = producer("bob");
    repo.insert_producer(&bob).await.unwrap();
    assert_eq!(
        repo.document(&schema::Tenant::live(bob.id.clone()), &doc.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repo.list_documents(&schema::Tenant::live(bob.id.clone()), None, 10)
            .await
            .unwrap(),
        vec![]
    );
}

async fn list_documents_pages_in_id_order(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    let bob = producer("bob");
    repo.insert_producer(&alice).await.unwrap();
    repo.insert_producer(&bob).await.unwrap();
    // Ids whose byte order differs from a locale's order (punctuation, digits, case), so a
    // database sorting by locale instead of bytes fails here.
    let ids = [
        "aAAAAAAAAAAAAAAAAAAAAA",
        "_AAAAAAAAAAAAAAAAAAAAA",
        "ZAAAAAAAAAAAAAAAAAAAAA",
        "-AAAAAAAAAAAAAAAAAAAAA",
        "0AAAAAAAAAAAAAAAAAAAAA",
        "BAAAAAAAAAAAAAAAAAAAAA",
    ];
    let mut expected = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        let doc = DocumentRecord {
            id: DocumentId::parse(id).unwrap(),
            name: format!("doc {i}"),
            ..document(&alice.id, &object.key)
        };
        repo.insert_document(&doc).await.unwrap();
        expected.push((doc.id, doc.name));
    }
    // Bob's document sits between Alice's in id order and must never show up in her listing.
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let bobs = DocumentRecord {
        id: DocumentId::parse("MAAAAAAAAAAAAAAAAAAAAA").unwrap(),
        ..document(&bob.id, &object.key)
    };
    repo.insert_document(&bobs).await.unwrap();
    expected.sort_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));

    assert_eq!(
        repo.list_documents(&schema::Tenant::live(alice.id.clone()), None, 100)
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        repo.list_documents(&schema::Tenant::live(alice.id.clone()), None, 0)
            .await
            .unwrap(),
        vec![]
    );

    let mut pages = Vec::new();
    let mut after: Option<DocumentId> = None;
    loop {
        let page = repo
            .list_documents(&schema::Tenant::live(alice.id.clone()), after.as_ref(), 4)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(id, _)| id.clone());
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 2]);
    assert_eq!(pages.concat(), expected);

    // A cursor need not be an existing id: paging resumes after it.
    let cursor = DocumentId::parse("1AAAAAAAAAAAAAAAAAAAAA").unwrap();
    let rest = repo
        .list_documents(&schema::Tenant::live(alice.id.clone()), Some(&cursor), 100)
        .await
        .unwrap();
    assert_eq!(rest, expected[2..]);
    assert_eq!(
        repo.list_documents(&schema::Tenant::live(bob.id.clone()), None, 100)
            .await
            .unwrap(),
        vec![(bobs.id, bobs.name)]
    );
}

async fn delete_document_removes_record_and_object(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let keep = stored_document(&*repo, "bob").await;

    assert_eq!(
        repo.delete_document(&doc.producer_id, &doc.id)
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(repo.object(&doc.object_key).await.unwrap(), None);
    assert!(!repo.object_exists(&doc.object_key).await.unwrap());
    assert_eq!(
        repo.delete_document(&doc.producer_id, &doc.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repo.list_documents(&schema::Tenant::live(doc.producer_id.clone()), None, 10)
            .await
            .unwrap(),
        vec![]
    );

    // Nothing else went with it.
    assert_eq!(
        repo.document(&schema::Tenant::live(keep.producer_id.clone()), &keep.id)
            .await
            .unwrap(),
        Some(keep.clone())
    );
    assert!(repo.object_exists(&keep.object_key).await.unwrap());
}

async fn delete_of_other_producers_document_deletes_nothing(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let bob = producer("bob");
    repo.insert_producer(&bob).await.unwrap();

    assert_eq!(repo.delete_document(&bob.id, &doc.id).await.unwrap(), None);
    assert_eq!(
        repo.document(&schema::Tenant::live(doc.producer_id.clone()), &doc.id)
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert!(repo.object_exists(&doc.object_key).await.unwrap());
}

async fn duplicate_document_keys_conflict(repo: Arc<dyn Repository>) {
    let doc = stored_document(&*repo, "alice").await;
    let fresh_object = || async {
        let object = pending_object(now());
        repo.insert_object(&object).await.unwrap();
        object.key
    };

    let same_id = DocumentRecord {
        id: doc.id.clone(),
        ..document(&doc.producer_id, &fresh_object().await)
    };
    assert_conflict(repo.insert_document(&same_id).await, UniqueKey::DocumentId);
    let same_placeholder = DocumentRecord {
        placeholder_id: doc.placeholder_id.clone(),
        ..document(&doc.producer_id, &fresh_object().await)
    };
    assert_conflict(
        repo.insert_document(&same_placeholder).await,
        UniqueKey::PlaceholderId,
    );
    // A document owns its object: two documents never share one.
    assert_conflict(
        repo.insert_document(&document(&doc.producer_id, &doc.object_key))
            .await,
        UniqueKey::DocumentObject,
    );
    assert_eq!(
        repo.list_documents(&schema::Tenant::live(doc.producer_id.clone()), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn document_needs_existing_producer_and_object(repo: Arc<dyn Repository>) {
    let alice = producer("alice");
    repo.insert_producer(&alice).await.unwrap();
    let unknown_object = repo
        .insert_document(&document(&alice.id, &ObjectKey::random()))
        .await;
    assert!(
        matches!(unknown_object, Err(RepoError::Database(_))),
        "{unknown_object:?}"
    );

    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let unknown_producer = repo
        .insert_document(&document(&ProducerId::random(), &object.key))
        .await;
    assert!(
        matches!(unknown_producer, Err(RepoError::Database(_))),
        "{unknown_producer:?}"
    );
    let orphan_session = repo
        .insert_session(&session(&ProducerId::random(), now(), Duration::hours(1)))
        .await;
    assert!(
        matches!(orphan_session, Err(RepoError::Database(_))),
        "{orphan_session:?}"
    );
}

/// Paging must follow byte order even where the server's locale sorts text otherwise
/// (`_A -A 0A aA BA ZA` under ICU `en-US`), so PostgreSQL agrees with SQLite everywhere.
#[tokio::test]
async fn list_documents_pages_in_id_order_under_a_locale() {
    use sqlx::{AssertSqlSafe, Connection, Executor};
    let base = schema::testing::postgres_base_url();
    let name = format!(
        "sp_icu_{}",
        DocumentId::random()
            .as_str()
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    conn.execute(AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
    )))
    .await
    .unwrap();
    conn.close().await.unwrap();
    let (server, _) = base
        .split_once('?')
        .map_or(base.as_str(), |(url, _)| url)
        .rsplit_once('/')
        .unwrap();
    list_documents_pages_in_id_order(schema::connect(&format!("{server}/{name}")).await.unwrap())
        .await;
    // Not a `TestDatabase` (its own locale): dropped here, when the test passed.
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    conn.execute(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .await
        .unwrap();
    conn.close().await.unwrap();
}
