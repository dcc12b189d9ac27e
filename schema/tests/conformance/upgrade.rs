//! The hash chains seen from the database itself, per dialect: rows written before migration
//! 0006 are chained by the migration, and the lines without a producer (which no export
//! reaches) form one chain per log.

use std::sync::Arc;

use chrono::Duration;
use schema::audit::GENESIS;
use schema::objects::Typed;
use schema::postgres::PgRepository;
use schema::sqlite::SqliteRepository;
use schema::{LogKind, Repository};

use crate::fixtures::{at, document, now, pending_object, producer, stored_document};
use crate::logs::{append, assert_chained, assert_lines_chained, entry, whole_chain};

/// A repository and a raw handle on its database.
enum Db {
    /// The directory is kept until the test ends (dropping it deletes the database).
    Sqlite(SqliteRepository, #[allow(dead_code)] tempfile::TempDir),
    /// The guard drops the database when the test ends.
    Postgres(
        PgRepository,
        #[allow(dead_code)] schema::testing::TestDatabase,
    ),
}

impl Db {
    /// A new database, not migrated.
    async fn open(postgres: bool) -> Db {
        if postgres {
            let database = schema::testing::TestDatabase::create().await;
            Db::Postgres(
                PgRepository::connect(database.url()).await.unwrap(),
                database,
            )
        } else {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("sealpost.db").display());
            Db::Sqlite(SqliteRepository::connect(&url).await.unwrap(), dir)
        }
    }

    fn repo(&self) -> Arc<dyn Repository> {
        match self {
            Db::Sqlite(repo, _) => Arc::new(repo.clone()),
            Db::Postgres(repo, _) => Arc::new(repo.clone()),
        }
    }

    async fn migrate_to(&self, version: i64) {
        match self {
            Db::Sqlite(repo, _) => schema::testing::migrate_sqlite_to(repo, version).await,
            Db::Postgres(repo, _) => schema::testing::migrate_postgres_to(repo, version).await,
        }
        .unwrap();
    }

    /// Inserts `producer` as a release before 0013 did (no `producer_keys` row: today's
    /// `insert_producer` writes one, into a table these old versions do not have).
    async fn insert_old_producer(&self, producer: &schema::Producer) {
        let sql = "INSERT INTO producers (id, name, email, public_key, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        macro_rules! insert {
            ($pool:expr) => {
                sqlx::query(sql)
                    .bind(producer.id.as_str())
                    .bind(&producer.name)
                    .bind(&producer.email)
                    .bind(&producer.public_key)
                    .bind(producer.created_at.timestamp_millis())
                    .execute($pool)
                    .await
                    .map(drop)
            };
        }
        match self {
            Db::Sqlite(repo, _) => insert!(repo.pool()),
            Db::Postgres(repo, _) => insert!(repo.pool()),
        }
        .unwrap();
    }

    /// Writes `count` rows into `table` as a release before 0006 did (no chain columns), each
    /// row's producer cycling through `producers` and NULL; fields `old <table> <n>`.
    async fn write_old_rows(&self, table: &str, producers: [&str; 2], count: i64) {
        // Test-only SQL: the table name is one of two constants below.
        let columns = match table {
            "vault_log" => "producer_id, document_id, time, fields",
            "gateway_log" => "producer_id, document_id, time, fields, hit",
            other => panic!("unexpected table {other}"),
        };
        let extra = if table == "gateway_log" { ", NULL" } else { "" };
        match self {
            Db::Sqlite(repo, _) => {
                let sql = format!(
                    "INSERT INTO {table} ({columns}) \
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3) \
                     SELECT CASE i % 3 WHEN 0 THEN ?1 WHEN 1 THEN ?2 ELSE NULL END, NULL, \
                     1700000000000 + i, 'old {table} ' || i{extra} FROM n"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(producers[0])
                    .bind(producers[1])
                    .bind(count)
                    .execute(repo.pool())
                    .await
                    .unwrap();
            }
            Db::Postgres(repo, _) => {
                let sql = format!(
                    "INSERT INTO {table} ({columns}) \
                     SELECT CASE i % 3 WHEN 0 THEN $1::TEXT WHEN 1 THEN $2::TEXT ELSE NULL END, \
                     NULL, 1700000000000 + i, 'old {table} ' || i{extra} \
                     FROM generate_series(1, $3::BIGINT) AS i"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(producers[0])
                    .bind(producers[1])
                    .bind(count)
                    .execute(repo.pool())
                    .await
                    .unwrap();
            }
        }
    }

    /// `(prev, chain, fields)` of the `kind` log's lines without a producer, in seq order.
    async fn producerless(&self, kind: LogKind) -> Vec<(String, String, String)> {
        let sql = match kind {
            LogKind::Api => {
                "SELECT prev, chain, fields FROM api_log WHERE producer_id IS NULL ORDER BY seq"
            }
            LogKind::Gateway => {
                "SELECT prev, chain, fields FROM gateway_log WHERE producer_id IS NULL ORDER BY seq"
            }
            LogKind::Vault => {
                "SELECT prev, chain, fields FROM vault_log WHERE producer_id IS NULL ORDER BY seq"
            }
        };
        match self {
            Db::Sqlite(repo, _) => sqlx::query_as(sql).fetch_all(repo.pool()).await,
            Db::Postgres(repo, _) => sqlx::query_as(sql).fetch_all(repo.pool()).await,
        }
        .unwrap()
    }
}

fn assert_triples_chained(rows: &[(String, String, String)], first_prev: &str) {
    assert_chained(
        rows.iter()
            .map(|(prev, value, fields)| (prev.as_str(), value.as_str(), fields.as_str())),
        first_prev,
    );
}

mod old_rows_are_chained_by_the_migration {
    #[tokio::test]
    async fn sqlite() {
        super::old_rows_are_chained_by_the_migration(false).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::old_rows_are_chained_by_the_migration(true).await;
    }
}

async fn old_rows_are_chained_by_the_migration(postgres: bool) {
    let db = Db::open(postgres).await;
    db.migrate_to(5).await;
    let repo = db.repo();
    // Producers only: today's document rows have columns that migration 5 has not.
    let (a, b) = (producer("alice"), producer("bob"));
    db.insert_old_producer(&a).await;
    db.insert_old_producer(&b).await;
    let producers = [a.id.as_str(), b.id.as_str()];
    // More than one page of the chaining (2,000 rows) in the vault log.
    db.write_old_rows("vault_log", producers, 4_500).await;
    db.write_old_rows("gateway_log", producers, 10).await;

    repo.migrate().await.unwrap();
    let chains = |kind| {
        let repo = repo.clone();
        let (pa, pb) = (a.id.clone(), b.id.clone());
        async move {
            (
                whole_chain(&*repo, kind, &pa).await,
                whole_chain(&*repo, kind, &pb).await,
            )
        }
    };
    let (vault_a, vault_b) = chains(LogKind::Vault).await;
    assert_eq!((vault_a.len(), vault_b.len()), (1_500, 1_500));
    assert_eq!(vault_b[0].fields, "old vault_log 1");
    assert_lines_chained(&vault_a, GENESIS);
    assert_lines_chained(&vault_b, GENESIS);
    let vault_none = db.producerless(LogKind::Vault).await;
    assert_eq!(vault_none.len(), 1_500);
    assert_triples_chained(&vault_none, GENESIS);
    let (gateway_a, _) = chains(LogKind::Gateway).await;
    assert_eq!(gateway_a.len(), 3);
    assert_lines_chained(&gateway_a, GENESIS);

    // Migrating again changes nothing.
    repo.migrate().await.unwrap();
    assert_eq!(chains(LogKind::Vault).await.0, vault_a);

    // New lines chain on from the old ones (a document of alice's, now that the table has
    // every column).
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let doc = document(&a.id, &object.key);
    repo.insert_document(&doc).await.unwrap();
    let t = now();
    for kind in [LogKind::Vault, LogKind::Gateway] {
        append(
            &*repo,
            kind,
            &[entry(Some(&doc), t, "new"), entry(None, t, "new")],
        )
        .await;
    }
    let (vault_a_now, _) = chains(LogKind::Vault).await;
    assert_eq!(vault_a_now.len(), 1_501);
    assert_lines_chained(&vault_a_now, GENESIS);
    let (gateway_a_now, _) = chains(LogKind::Gateway).await;
    assert_eq!(gateway_a_now[3].prev, gateway_a[2].chain);
    assert_triples_chained(&db.producerless(LogKind::Vault).await, GENESIS);
    assert_triples_chained(&db.producerless(LogKind::Gateway).await, GENESIS);
}

mod lines_without_producer_form_one_chain_per_log {
    #[tokio::test]
    async fn sqlite() {
        super::lines_without_producer_form_one_chain_per_log(false).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::lines_without_producer_form_one_chain_per_log(true).await;
    }
}

async fn lines_without_producer_form_one_chain_per_log(postgres: bool) {
    let db = Db::open(postgres).await;
    let repo = db.repo();
    repo.migrate().await.unwrap();
    let a = stored_document(&*repo, "alice").await;
    let t = at(1_700_000_000_000);
    let mut tasks = Vec::new();
    for kind in LogKind::ALL {
        for i in 0..16 {
            let repo = repo.clone();
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                let time = t + Duration::seconds(i);
                let batch = [
                    entry(None, time, &format!("junk {i} 1")),
                    entry(Some(&a), time, &format!("a {i}")),
                    entry(None, time, &format!("junk {i} 2")),
                ];
                append(&*repo, kind, &batch).await;
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for kind in LogKind::ALL {
        let junk = db.producerless(kind).await;
        assert_eq!(junk.len(), 32, "{kind:?}");
        assert_triples_chained(&junk, GENESIS);
        // The producer's chain is its own: it starts at the genesis too.
        let lines = whole_chain(&*repo, kind, &a.producer_id).await;
        assert_eq!(lines.len(), 16);
        assert_lines_chained(&lines, GENESIS);
    }
}

mod documents_keep_their_values_through_migration_11 {
    #[tokio::test]
    async fn sqlite() {
        super::documents_keep_their_values_through_migration_11(false).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::documents_keep_their_values_through_migration_11(true).await;
    }
}

/// Migration 0011 adds `access_version` (and, on SQLite, re-appends the large JSON columns
/// after it): a document written before keeps every value and starts at version 0.
async fn documents_keep_their_values_through_migration_11(postgres: bool) {
    let db = Db::open(postgres).await;
    db.migrate_to(8).await;
    let repo = db.repo();
    let owner = producer("carol");
    db.insert_old_producer(&owner).await;
    let object = pending_object(now());
    repo.insert_object(&object).await.unwrap();
    let doc = document(&owner.id, &object.key);
    // As a release before 0011 wrote it: plain JSON text, no access_version.
    let columns = "id, producer_id, placeholder_id, name, media_type, object_key, size, \
                   hash_algorithm, hash_value, expiration, audience, challenge, fulfillment, \
                   landingpage, metadata, created_at, last_modified";
    let json = |value: Option<&serde_json::Value>| value.map(ToString::to_string);
    macro_rules! insert {
        ($pool:expr, $placeholders:expr) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO documents ({columns}) VALUES ({})",
                $placeholders
            )))
            .bind(doc.id.as_str())
            .bind(owner.id.as_str())
            .bind(doc.placeholder_id.as_str())
            .bind(&doc.name)
            .bind(&doc.media_type)
            .bind(doc.object_key.as_str())
            .bind(doc.size)
            .bind(&doc.hash_algorithm)
            .bind(&doc.hash_value)
            .bind(doc.expiration.timestamp_millis())
            .bind(json(doc.audience.as_ref().map(Typed::json)))
            .bind(json(doc.challenge.as_ref().map(Typed::json)))
            .bind(json(doc.fulfillment.as_ref().map(Typed::json)))
            .bind(json(doc.landingpage.as_ref().map(Typed::json)))
            .bind(json(doc.metadata.as_ref()))
            .bind(doc.created_at.timestamp_millis())
            .bind(doc.last_modified.timestamp_millis())
            .execute($pool)
            .await
            .unwrap()
        };
    }
    match &db {
        Db::Sqlite(repo, _) => {
            insert!(repo.pool(), vec!["?"; 17].join(", "));
        }
        Db::Postgres(repo, _) => {
            let numbered: Vec<String> = (1..=17).map(|n| format!("${n}")).collect();
            insert!(repo.pool(), numbered.join(", "));
        }
    }
    repo.migrate().await.unwrap();
    if let Db::Sqlite(repo, _) = &db {
        // The gateway's per-request read stops before the large columns (as after 0004).
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('documents')")
                .fetch_all(repo.pool())
                .await
                .unwrap();
        let at = |column: &str| names.iter().position(|name| name == column).unwrap();
        for large in ["audience", "fulfillment", "metadata"] {
            assert!(at("access_version") < at(large), "{names:?}");
            assert!(at("environment") < at(large), "{names:?}");
        }
    }
    let read = repo.document_by_id(&doc.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        schema::DocumentRecord {
            access_version: 0,
            ..doc
        }
    );
}
