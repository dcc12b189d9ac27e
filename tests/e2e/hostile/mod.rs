//! Malformed and hostile requests across every producer route: each one gets a 4xx (never a
//! 5xx, never a dropped connection) and nothing stored changes.

mod cases;

use serde_json::Value;

use crate::common::{Db, TestApp, on_both_databases};
use crate::updates::{id_of, upload_full};
use cases::cases;

on_both_databases!(hostile_requests_get_4xx_and_change_nothing);

async fn hostile_requests_get_4xx_and_change_nothing(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.max_json_part_bytes", "1048576")]).await;
    let token = app.login().await;
    let created = upload_full(&app, &token).await;
    let id = id_of(&created);
    let before = snapshot(&app, &token, &id).await;
    let cases = cases(&app, &token, &id);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (name, request) in cases {
        match request.send().await {
            Ok(response) if response.status().is_client_error() => {}
            Ok(response) => failures.push(format!("{name}: {}", response.status())),
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "not answered 4xx:\n{}",
        failures.join("\n")
    );
    assert!(
        before == snapshot(&app, &token, &id).await,
        "a hostile request changed stored state"
    );
}

/// What a hostile request must not change: the record, the listing, the content, the store.
async fn snapshot(
    app: &TestApp,
    token: &str,
    id: &str,
) -> (Value, Value, Vec<u8>, Vec<std::path::PathBuf>) {
    let record: Value = app.get_json(token, &format!("/documents/{id}")).await;
    let listing: Value = app.get_json(token, "/documents").await;
    (
        record,
        listing,
        app.download(token, id).await.unwrap(),
        app.object_files(),
    )
}
