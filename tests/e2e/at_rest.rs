//! Viewer data and challenge secrets at rest (issue 14, finding 8): audience records, challenge
//! literals, fulfillment headers and metadata never reach the disk in clear. Every byte of the
//! instance's directory (database, WAL, shared memory, objects, key files) is searched for the
//! distinctive values after upload, while running and after stop; for PostgreSQL, whose files
//! are not ours, every row of every table is searched over SQL as well. The services still
//! read them back: the gateway admits the viewer, the API answers what was uploaded. A queued
//! delivery's copies are sealed too, and deleting the document leaves no byte of them behind.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{Db, TestApp, files_under, on_both_databases};
use crate::gateway::{basic, create, fetch_handle, literal, no_redirects};

on_both_databases!(
    viewer_data_and_challenge_secrets_are_not_stored_in_clear,
    records_rotate_key_reseals_while_the_services_run,
);

const PASSWORD: &str = "Pa55w0rd!Qv7-at-rest";
const PHONE: &str = "+1-555-0199-7741";
const BIRTH_DATE: &str = "1961-08-29";
const HEADER_SECRET: &str = "Bearer hdr-Zx41-fulfil-secret";
const METADATA_VALUE: &str = "meta-Kq93-case-ref";

fn secrets() -> [&'static str; 5] {
    [PASSWORD, PHONE, BIRTH_DATE, HEADER_SECRET, METADATA_VALUE]
}

fn audience() -> Value {
    json!({"type": "records", "viewerToken": "{?telephone,dob}", "data": {"records": [
        {"telephone": PHONE, "dob": BIRTH_DATE, "email_address": "v1@example.com"},
        {"telephone": "4154445512", "dob": "2001-01-01", "email_address": "v2@example.com"}
    ]}})
}

fn fulfillment() -> Value {
    // A loopback port nothing listens on: deliveries queue and fail, never leaving the host.
    json!({"type": "http", "href": "http://127.0.0.1:9/notify",
           "headers": {"Authorization": HEADER_SECRET}, "body": "to={email_address}"})
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Every file under `root` holding one of the secrets, as `file: secret`.
fn files_holding_secrets(root: &Path) -> Vec<String> {
    let files: Vec<PathBuf> = files_under(root);
    assert!(!files.is_empty(), "nothing under {}", root.display());
    let mut found = Vec::new();
    for file in files {
        let Ok(bytes) = std::fs::read(&file) else {
            continue; // removed while we looked (a WAL after a checkpoint)
        };
        for secret in secrets() {
            if contains(&bytes, secret.as_bytes()) {
                found.push(format!("{}: {secret}", file.display()));
            }
        }
    }
    found
}

/// Every row of every table of a PostgreSQL database holding one of the secrets (as text, or
/// hex-encoded as a `bytea` prints).
async fn pg_rows_holding_secrets(url: &str) -> Vec<String> {
    use sqlx::Row as _;
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert!(tables.iter().any(|t| t == "documents"), "{tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let sql = format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            for secret in secrets() {
                let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
                if text.contains(secret) || text.contains(&hex) {
                    found.push(format!("{table}: {secret}"));
                }
            }
        }
    }
    pool.close().await;
    found
}

async fn assert_nothing_in_clear(app: &TestApp, db: Db, when: &str) {
    // The instance's temporary directory: its data directory and, in the split wiring, the
    // vault's beside it.
    let root = app.data_dir().parent().unwrap().to_owned();
    let found = files_holding_secrets(&root);
    assert!(found.is_empty(), "{when}: in clear on disk: {found:#?}");
    if db == Db::Postgres {
        let found = pg_rows_holding_secrets(&app.settings.database_url()).await;
        assert!(
            found.is_empty(),
            "{when}: in clear in PostgreSQL: {found:#?}"
        );
    }
}

async fn viewer_data_and_challenge_secrets_are_not_stored_in_clear(db: Db) {
    let mut app = TestApp::spawn(db).await;
    let token = app.login().await;
    let doc = create(
        &app,
        &token,
        b"at rest",
        &[
            ("audience", audience()),
            ("challenge", basic(literal(&format!("alice:{PASSWORD}")))),
            ("fulfillment", fulfillment()),
            ("metadata", json!({"caseRef": METADATA_VALUE})),
        ],
    )
    .await;
    assert_nothing_in_clear(&app, db, "after upload").await;

    // The gateway still finds the viewer and checks the password.
    let url = format!(
        "{}/{}?telephone=%2B1-555-0199-7741&dob={BIRTH_DATE}",
        app.gateway, doc.placeholder
    );
    let client = no_redirects();
    let wrong = client
        .get(&url)
        .basic_auth("alice", Some("not-it"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&url)
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(right).await, b"at rest");

    // The API answers what was uploaded.
    let base = format!("/documents/{}", doc.id);
    assert_eq!(
        app.get_json(&token, &format!("{base}/audience")).await,
        audience()
    );
    assert_eq!(
        app.get_json(&token, &format!("{base}/challenge")).await,
        basic(literal(&format!("alice:{PASSWORD}")))
    );
    assert_eq!(
        app.get_json(&token, &format!("{base}/fulfillment")).await,
        fulfillment()
    );
    assert_eq!(
        app.get_json(&token, &format!("{base}/metadata")).await,
        json!({"caseRef": METADATA_VALUE})
    );
    assert_nothing_in_clear(&app, db, "while running").await;

    // A delivery keeps its own copies (the fulfillment, each recipient's record) until it ends.
    crate::delivery::deliver(&app, &token, &doc.id, &[]).await;
    assert_nothing_in_clear(&app, db, "with a delivery queued").await;

    // Deleting the document shreds its sealed values with the rest: the row is gone and, on
    // SQLite, no byte of the sealed audience is left in the database or its WAL.
    let sealed = stored_audience(&app, &doc.id).await.unwrap();
    assert!(sealed.starts_with("sp1:"), "{sealed}");
    let deleted = app.delete(&token, &base).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(stored_audience(&app, &doc.id).await, None);
    if db == Db::Sqlite {
        let body = sealed.rsplit(':').next().unwrap().to_owned();
        let mut left = true;
        for _ in 0..100 {
            let files = files_under(&app.data_dir());
            left = files.iter().any(|file| {
                std::fs::read(file).is_ok_and(|bytes| contains(&bytes, body.as_bytes()))
            });
            if !left {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            !left,
            "the deleted document's sealed audience is still on disk"
        );
    }

    app.stop().await;
    assert_nothing_in_clear(&app, db, "after stop").await;
}

/// The audience column of document `id` as stored, `None` when there is no such row.
async fn stored_audience(app: &TestApp, id: &str) -> Option<String> {
    use sqlx::Row as _;
    let url = app.settings.database_url();
    let sql = "SELECT audience FROM documents WHERE id = $1";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        row.map(|row| row.get(0))
    } else {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap();
        pool.close().await;
        row.map(|row| row.get(0))
    }
}

/// The key id a stored sealed value names (`sp1:{id}:…`).
fn key_id(stored: &str) -> String {
    stored.split(':').nth(1).unwrap().to_owned()
}

async fn records_rotate_key_reseals_while_the_services_run(db: Db) {
    let app = TestApp::spawn(db).await;
    let token = app.login().await;
    let challenge = basic(literal(&format!("alice:{PASSWORD}")));
    let doc = create(
        &app,
        &token,
        b"rotated",
        &[("audience", audience()), ("challenge", challenge.clone())],
    )
    .await;
    let old_key = key_id(&stored_audience(&app, &doc.id).await.unwrap());

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
        .args(["records", "rotate-key", "--data-dir"])
        .arg(app.data_dir())
        .env("SEALPOST__DATABASE__URL", app.settings.database_url())
        .current_dir(app.data_dir().parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let new_key = key_id(&stored_audience(&app, &doc.id).await.unwrap());
    assert_ne!(new_key, old_key);
    assert!(
        stdout.contains(&format!(
            "record key {new_key} is current; 2 values resealed"
        )),
        "{stdout}"
    );

    // The running services, loaded with the old key only, still read the resealed row (they
    // reload the key file) and then seal new writes under the new key.
    let base = format!("/documents/{}", doc.id);
    assert_eq!(
        app.get_json(&token, &format!("{base}/audience")).await,
        audience()
    );
    let url = format!(
        "{}/{}?telephone=%2B1-555-0199-7741&dob={BIRTH_DATE}",
        app.gateway, doc.placeholder
    );
    let right = no_redirects()
        .get(&url)
        .basic_auth("alice", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_handle(right).await, b"rotated");
    let later = create(&app, &token, b"later", &[("audience", audience())]).await;
    assert_eq!(
        key_id(&stored_audience(&app, &later.id).await.unwrap()),
        new_key
    );
    // Both keys stay in the file, so what a service sealed with the old one still opens.
    let file = std::fs::read_to_string(app.data_dir().join("record-keys.json")).unwrap();
    let file: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(file["current"], new_key.as_str());
    assert!(file["keys"].get(&old_key).is_some(), "{file}");
}
