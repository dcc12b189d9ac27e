//! The OAuth challenge (issue 6) against real peers: npm's oidc-provider (a certified OpenID
//! provider) walked by headless Chromium, and a deliberately misbehaving provider
//! (tests/oidc/rogue.mjs) for the failure paths no honest provider produces.

mod dance;
mod egress;
mod failures;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::gateway::Doc;

/// A provider process, killed when dropped.
pub struct Peer {
    child: Child,
    pub issuer: String,
}

impl Peer {
    /// Starts `tests/oidc/{script}` with `config` and waits for its issuer line.
    pub fn start(script: &str, config: Value) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is missing: run scripts/test, or `npm ci --prefix tests/oidc`"
        );
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .arg(config.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{script}: {e}: {line:?}"));
        Self {
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
        }
    }

    /// The real provider, with no client yet; tokens living `access_token_ttl` seconds.
    pub fn provider(access_token_ttl: u64) -> Self {
        Self::start(
            "provider.mjs",
            json!({"port": 0, "clients": [], "access_token_ttl": access_token_ttl, "id_token_ttl": 60}),
        )
    }

    /// The misbehaving provider, signing in everyone as `login`.
    pub fn rogue(login: &str) -> Self {
        Self::start(
            "rogue.mjs",
            json!({"port": 0, "mode": "ok", "login": login}),
        )
    }

    /// Registers a client whose redirect URI is `app`'s callback (real provider only).
    pub async fn register(&self, app: &TestApp, client_id: &str, secret: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/_test/clients", self.issuer))
            .json(&json!({
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": [format!("{}/oauth/callback", app.gateway)],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }

    /// Switches the rogue provider's behaviour.
    pub async fn set_mode(&self, mode: &str) {
        let response = reqwest::get(format!("{}/mode?set={mode}", self.issuer))
            .await
            .unwrap();
        assert!(response.status().is_success(), "mode {mode}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OAuth challenge naming `issuer`, with `consumer` and `access` sources.
pub fn oauth(issuer: &str, consumer: Value, access: Value) -> Value {
    json!({"type": "OAuth", "data": {"provider": {"href": issuer}, "consumer": consumer, "access": access}})
}

/// An audience whose records carry client credentials and email addresses.
pub fn audience() -> Value {
    json!({"type": "records", "viewerToken": "{?viewer}", "data": {"records": [
        {"viewer": "ann", "client": "gw-client", "secret": "gw-secret", "email_address": "ann@example.com"},
        {"viewer": "bob", "client": "gw-client", "secret": "wrong-secret", "email_address": "bob@example.com"}
    ]}})
}

/// Uploads `content` (as `application/octet-stream`, which a browser downloads) with an OAuth
/// challenge and the audience above.
pub async fn oauth_doc(app: &TestApp, token: &str, content: &[u8], challenge: Value) -> Doc {
    let part = reqwest::multipart::Part::bytes(content.to_vec())
        .file_name("signed.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .part("document", part)
        .text("audience", audience().to_string())
        .text("challenge", challenge.to_string());
    let response = app.upload_form(token, form).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    Doc {
        id: record["id"].as_str().unwrap().to_owned(),
        placeholder: crate::gateway::placeholder_id(&record),
    }
}
