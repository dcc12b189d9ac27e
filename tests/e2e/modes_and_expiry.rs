//! Instance modes and expiration: high-security mode refuses browsing and read-back; an
//! expired document is refused at once and destroyed by the sweep.

use std::time::Duration;

use reqwest::multipart::Form;
use serde_json::json;

use crate::common::{Db, TestApp, document_form, on_both_databases};
use crate::updates::{id_of, post_update, put_json, upload_full};

on_both_databases!(
    high_security_mode_refuses_browsing_and_read_back,
    expired_documents_are_refused_then_destroyed,
    expired_documents_are_refused_at_once,
);

async fn high_security_mode_refuses_browsing_and_read_back(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.security", "high")]).await;
    let token = app.login().await;
    let id = id_of(&upload_full(&app, &token).await);
    let response = app.get(&token, "/documents").send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response = app
        .get(&token, &format!("/documents/{id}/document"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        app.get(&token, &format!("/documents/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the record is still readable"
    );
}

async fn expired_documents_are_refused_then_destroyed(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.expiry_sweep_secs", "1")]).await;
    let token = app.login().await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let form = document_form("brief.pdf", b"short-lived".to_vec()).text("expiration", soon.clone());
    let id = id_of(&app.upload_form(&token, form).await.json().await.unwrap());
    assert_eq!(app.download(&token, &id).await.unwrap(), b"short-lived");
    let mut statuses = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        statuses.push(
            app.get(&token, &format!("/documents/{id}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
        if statuses.last() == Some(&404) && app.object_files().is_empty() {
            break;
        }
    }
    assert!(
        statuses.iter().all(|s| [200, 410, 404].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&404),
        "the sweep destroyed it: {statuses:?}"
    );
    assert!(app.object_files().is_empty());
    let response = post_update(&app, &token, &id, Form::new()).await;
    assert_eq!(response.status(), 404);
}

async fn expired_documents_are_refused_at_once(db: Db) {
    let app = TestApp::spawn_with(db, &[("api.expiry_sweep_secs", "3600")]).await;
    let token = app.login().await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let form = document_form("brief.pdf", b"short-lived".to_vec()).text("expiration", soon.clone());
    let id = id_of(&app.upload_form(&token, form).await.json().await.unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for path in ["", "/document", "/metadata"] {
        let response = app
            .get(&token, &format!("/documents/{id}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 410, "{path}");
    }
    let response = put_json(
        &app,
        &token,
        &format!("/documents/{id}/metadata"),
        &json!({}),
    )
    .await;
    assert_eq!(response.status(), 410);
}
