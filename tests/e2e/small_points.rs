//! Issue 14, finding 9 (the points of helper h3): 401 answers say nothing about why a token
//! fails; expiration has an upper bound; the SQLite database and its WAL/SHM are mode 0600.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::common::{Db, TestApp, document_form, on_both_databases};

on_both_databases!(
    revoked_and_invalid_tokens_answer_alike,
    expiration_has_an_upper_bound
);

/// What a client sees of a 401: status, `WWW-Authenticate`, body.
async fn refusal(app: &TestApp, token: &str) -> (u16, String, String) {
    let response = app.get(token, "/documents").send().await.unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    (
        response.status().as_u16(),
        challenge,
        response.text().await.unwrap(),
    )
}

/// A revoked token (logged out), a token whose signature does not verify, and one signed for
/// another session all get the same answer: nothing tells a guesser which kind it holds.
async fn revoked_and_invalid_tokens_answer_alike(db: Db) {
    let app = TestApp::spawn(db).await;
    let revoked = app.login().await;
    let status = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&revoked)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let live = app.login().await;
    let (rest, signature) = live.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{rest}.{flipped}{}", &signature[1..]);

    let revoked = refusal(&app, &revoked).await;
    assert_eq!(revoked.0, 401);
    assert_eq!(revoked, refusal(&app, &forged).await, "revoked vs forged");
    assert_eq!(
        revoked,
        refusal(&app, "not-a-token").await,
        "revoked vs junk"
    );
}

/// Year 2999 is refused (422 naming `expiration`) on create and on update; the bound is
/// `api.max_expiration_days` (here 30).
async fn expiration_has_an_upper_bound(db: Db) {
    let in_days = |days| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
    for (overrides, far, near) in [
        (
            &[][..],
            "2999-01-01T00:00:00Z".to_owned(),
            "2030-01-01T00:00:00Z".to_owned(),
        ),
        (
            &[("api.max_expiration_days", "30")][..],
            in_days(31),
            in_days(29),
        ),
    ] {
        let app = TestApp::spawn_with(db, overrides).await;
        let token = app.login().await;
        for expiration in [far.clone(), "Tue, 01 Jan 2999 00:00:00 GMT".to_owned()] {
            let form = document_form("a.pdf", b"a".to_vec()).text("expiration", expiration.clone());
            let response = app.upload_form(&token, form).await;
            assert_eq!(response.status(), 422, "create with {expiration}");
            assert_eq!(
                response.json::<Value>().await.unwrap()["field"],
                "expiration"
            );
        }
        let form = document_form("a.pdf", b"a".to_vec()).text("expiration", near.clone());
        let response = app.upload_form(&token, form).await;
        assert_eq!(response.status(), 201, "create with {near}");
        let id = response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = app
            .client
            .post(app.url(&format!("/documents/{id}")))
            .bearer_auth(&token)
            .multipart(reqwest::multipart::Form::new().text("expiration", far.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "update with {far}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["field"],
            "expiration"
        );
    }
}

/// After an upload (the first writes, so the WAL and shared-memory files exist), every file
/// of the SQLite database is readable by its owner only, while running and after stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_owner_only() {
    let mut app = TestApp::spawn(Db::Sqlite).await;
    let token = app.login().await;
    app.upload(&token, "a.pdf", b"a".to_vec()).await;
    let report = app.files_mode_report();
    assert!(
        report.iter().any(|(name, _)| name == "sealpost.db"),
        "{report:?}"
    );
    assert!(
        report.iter().any(|(name, _)| name == "sealpost.db-wal"),
        "{report:?}"
    );
    assert!(report.iter().all(|(_, mode)| *mode == 0o600), "{report:?}");
    app.stop().await;
    let report = app.files_mode_report();
    assert!(report.iter().all(|(_, mode)| *mode == 0o600), "{report:?}");
}

impl TestApp {
    /// `(name, permission bits)` of every file of the SQLite database (`sealpost.db*`).
    fn files_mode_report(&self) -> Vec<(String, u32)> {
        let mut files: Vec<(String, u32)> = std::fs::read_dir(self.data_dir())
            .unwrap()
            .map(Result::unwrap)
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("sealpost.db")
            })
            .map(|entry| {
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                (entry.file_name().to_string_lossy().into_owned(), mode)
            })
            .collect();
        files.sort();
        files
    }
}
