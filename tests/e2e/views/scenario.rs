//! The report's scenario: a document behind an HTTP Basic challenge (each record's own
//! password) with a three-record audience. Ann opens it twice and downloads once, Bob fails
//! the challenge once and then passes, Cat never comes.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common::{Db, TestApp};
use crate::gateway::{Doc, basic, create, field, no_redirects};

/// The document's size in bytes.
pub const CONTENT_LEN: usize = 70_001;

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// An instance whose vault writes its log each second (the downloads join through it).
pub async fn spawn(db: Db) -> TestApp {
    TestApp::spawn_with(db, &[("vault.log_flush_secs", "1")]).await
}

pub struct Scenario {
    pub token: String,
    pub doc: Doc,
}

impl Scenario {
    /// Creates the document and plays the three viewers' visits; returns once the vault has
    /// written Ann's download.
    pub async fn play(app: &TestApp) -> Self {
        let token = app.login().await;
        let audience = json!({"type": "records", "viewerToken": "{?email}", "data": {"records": [
            {"email": "ann@example.com", "pw": "ann:pw-ann"},
            {"email": "bob@example.com", "pw": "bob:pw-bob"},
            {"email": "cat@example.com", "pw": "cat:pw-cat"},
        ]}});
        let content = crate::common::pseudo_random(CONTENT_LEN, 22);
        let objects = [("audience", audience), ("challenge", basic(field("pw")))];
        let doc = create(app, &token, &content, &objects).await;
        let scenario = Self { token, doc };
        let first = scenario.visit(app, "ann", "pw-ann", 303).await;
        scenario.visit(app, "ann", "pw-ann", 303).await;
        let body = app
            .client
            .get(&first)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.as_ref(), content.as_slice());
        scenario.visit(app, "bob", "wrong", 401).await;
        scenario.visit(app, "bob", "pw-bob", 303).await;
        scenario.wait_for_download(app).await;
        scenario
    }

    /// One document request as `user@example.com` with Basic credentials; the handle URL
    /// when it answered 303.
    async fn visit(&self, app: &TestApp, user: &str, password: &str, status: u16) -> String {
        let url = format!(
            "{}/{}?email={user}%40example.com",
            app.gateway, self.doc.placeholder
        );
        let response = no_redirects()
            .get(url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        let location = response.headers().get("location");
        location
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// `GET /documents/{docId}{suffix}` with the login token.
    pub async fn get(&self, app: &TestApp, suffix: &str) -> reqwest::Response {
        let path = format!("/documents/{}{suffix}", self.doc.id);
        app.get(&self.token, &path).send().await.unwrap()
    }

    pub async fn report_json(&self, app: &TestApp) -> serde_json::Value {
        let response = self.get(app, "/views").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        response.json().await.unwrap()
    }

    /// Waits (at most 10 s) until the vault's batch holding Ann's download was written.
    async fn wait_for_download(&self, app: &TestApp) {
        for _ in 0..100 {
            let report = self.report_json(app).await;
            if report["records"][0]["downloads"]["complete"] == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the vault never recorded Ann's download");
    }
}

/// A key called `name` holding `scopes`, created with the login token.
pub async fn api_key(app: &TestApp, token: &str, name: &str, scopes: &[&str]) -> String {
    let response = app
        .client
        .post(app.url("/keys"))
        .bearer_auth(token)
        .json(&json!({"name": name, "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let key = body["key"].as_str().unwrap().to_owned();
    crate::secrets::record("api key", &key);
    crate::secrets::record("api key", body["bearer"].as_str().unwrap());
    key
}

/// `sealpost receipt verify FILE --key KEYS`: (success, stdout, stderr).
pub async fn run_verify(file: &Path, keys: &Path) -> (bool, String, String) {
    let output = tokio::process::Command::new(BINARY)
        .args(["receipt", "verify"])
        .arg(file)
        .arg("--key")
        .arg(keys)
        .output()
        .await
        .unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (
        output.status.success(),
        text(output.stdout),
        text(output.stderr),
    )
}
