//! The clients of the topology test: the producer on the API server and viewers on the
//! gateways and vaults, over plain HTTP to the processes' own addresses.

use serde_json::Value;
use shared::logzip::sha256_hex;

use crate::common::document_form;
use crate::gateway::placeholder_id;

/// A created document: its id and placeholder id.
pub struct Doc {
    pub id: String,
    pub placeholder: String,
}

/// The producer, logged in on the API server.
pub struct Api {
    pub base: String,
    authorization: String,
    client: reqwest::Client,
}

impl Api {
    /// Logs in with the producer's PEM key (as `sealpost producer add` printed it).
    pub async fn login(base: &str, pem: &str) -> Self {
        let client = reqwest::Client::new();
        let form = reqwest::multipart::Form::new()
            .text("key", pem.to_owned())
            .text("email", "ops@example.com");
        let response = client
            .post(format!("{base}/login"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let token = response.headers()["authorization"].to_str().unwrap();
        crate::secrets::record("login token", token);
        Self {
            base: base.to_owned(),
            authorization: format!("Bearer {token}"),
            client,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", &self.authorization)
    }

    /// Uploads `content` with the given JSON parts (`("audience", …)`, …).
    pub async fn upload(&self, content: &[u8], parts: &[(&str, Value)]) -> Doc {
        let mut form = document_form("report.pdf", content.to_vec());
        for (name, value) in parts {
            form = form.text((*name).to_owned(), value.to_string());
        }
        let request = self.request(reqwest::Method::POST, "/documents");
        let response = request.multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let record: Value = response.json().await.unwrap();
        Doc {
            id: record["id"].as_str().unwrap().to_owned(),
            placeholder: placeholder_id(&record),
        }
    }

    /// `POST /documents/{id}/links`: one sealed link per audience record.
    pub async fn links(&self, id: &str) -> Vec<Value> {
        let path = format!("/documents/{id}/links");
        let response = self
            .request(reqwest::Method::POST, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["links"].as_array().unwrap().clone()
    }

    /// The document's content, read back through the API (and so through its vault).
    pub async fn content(&self, id: &str) -> Vec<u8> {
        let path = format!("/documents/{id}/document");
        let response = self
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }

    pub async fn delete(&self, id: &str) {
        let path = format!("/documents/{id}");
        let response = self
            .request(reqwest::Method::DELETE, &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    /// `GET /logs`: the signed zip of the producer's three logs.
    pub async fn logs(&self) -> Vec<u8> {
        let response = self
            .request(reqwest::Method::GET, "/logs")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }
}

/// Requests `url` on a gateway and follows its redirects until one leads to a vault handle
/// (`…/h/…`), which it returns.
pub async fn handle_of(client: &reqwest::Client, url: &str) -> String {
    let mut url = reqwest::Url::parse(url).unwrap();
    for _ in 0..4 {
        let response = client.get(url.clone()).send().await.unwrap();
        let status = response.status();
        assert!(status.is_redirection(), "{url}: {status}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        if location.contains("/h/") {
            return location;
        }
        url = url.join(&location).unwrap();
    }
    panic!("{url}: no handle after four redirects");
}

/// A handle URL minted under `minted` (the vault URL the gateways give viewers), sent to
/// `vault` instead.
pub fn on_vault(handle: &str, minted: &str, vault: &str) -> String {
    let path = handle
        .strip_prefix(minted)
        .unwrap_or_else(|| panic!("{handle} is not under {minted}"));
    format!("{vault}{path}")
}

/// The user agent of downloads sent to vault `a` or `b`: the vault log records it, which tells
/// the vaults' records apart.
pub fn agent(vault: &str) -> String {
    format!("sealpost-topology-to-vault-{vault}")
}

/// Downloads a handle with [`agent`]`(vault)`; 200 expected.
pub async fn download(url: &str, vault: &str) -> Vec<u8> {
    let client = reqwest::Client::builder()
        .user_agent(agent(vault))
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.bytes().await.unwrap().to_vec()
}

/// The `name="value"` of a challenge header.
fn param(header: &str, name: &str) -> String {
    let start = header.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    header[start..start + header[start..].find('"').unwrap()].to_owned()
}

/// `Authorization: Digest` for user `ann`, password `pw` (RFC 7616, SHA-256, qop=auth).
pub fn digest_authorization(challenge: &str, uri: &str, nc: &str) -> String {
    let h = |text: String| sha256_hex(text.as_bytes());
    let (realm, nonce) = (param(challenge, "realm"), param(challenge, "nonce"));
    let cnonce = "7c0ffee1";
    let ha1 = h(format!("ann:{realm}:pw"));
    let ha2 = h(format!("GET:{uri}"));
    let response = h(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let opaque = if challenge.contains("opaque=\"") {
        format!(", opaque=\"{}\"", param(challenge, "opaque"))
    } else {
        String::new()
    };
    format!(
        "Digest username=\"ann\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         algorithm=SHA-256, qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\"{opaque}"
    )
}
