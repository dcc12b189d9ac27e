//! Test helpers: spawn an instance, log in, upload, look at the data directory.

use std::path::{Path, PathBuf};

use reqwest::multipart::{Form, Part};
use sealpost::instance::{Instance, OBJECTS_DIR};
use shared::config::Settings;
use tempfile::TempDir;

/// Which database an instance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// A fresh, empty database for this test; keep it until the test ends (a PostgreSQL one is
    /// dropped with it).
    pub async fn fresh_database(self, dir: &Path) -> FreshDatabase {
        match self {
            Self::Sqlite => FreshDatabase {
                url: format!("sqlite:{}", dir.join("sealpost.db").display()),
                _postgres: None,
            },
            Self::Postgres => {
                let database = schema::testing::TestDatabase::create().await;
                FreshDatabase {
                    url: database.url().to_owned(),
                    _postgres: Some(database),
                }
            }
        }
    }
}

/// A test's database URL (it derefs to the URL); a PostgreSQL database is dropped with it.
#[derive(Debug)]
pub struct FreshDatabase {
    url: String,
    _postgres: Option<schema::testing::TestDatabase>,
}

impl std::ops::Deref for FreshDatabase {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

/// Generates `mod name { sqlite(), postgres() }` for each async test fn `name(db: Db)`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Db::Postgres).await
            }
        }
    )*};
}
pub(crate) use on_both_databases;

/// The segment size of stored objects (must match the vault's default).
pub const SEGMENT: usize = vault::cipher::DEFAULT_SEGMENT_SIZE as usize;

pub struct TestApp {
    /// Holds the data directory for as long as the app lives.
    _dir: TempDir,
    pub api: String,
    /// The gateway's base URL (`http://host:port`).
    pub gateway: String,
    /// The vault's base URL (`http://host:port`).
    pub vault: String,
    pub client: reqwest::Client,
    pub instance: Option<Instance>,
    /// The vault in its own server, in the split wiring ([`crate::wiring`]).
    pub split_vault: Option<shared::service::Running>,
    pub settings: Settings,
    /// The test that spawned this app (names its secret-grep dumps, [`crate::secrets`]).
    pub secret_grep_test: String,
    /// Whether its logs were dumped for the secret grep already (at `stop`).
    secret_grep_dumped: bool,
    /// The instance's database, dropped after everything above (the last field).
    _database: FreshDatabase,
}

/// The egress allowlist every test instance gets unless it overrides `egress.allow`.
pub const LOOPBACK_ALLOWED: &str = "127.0.0.0/8,::1/128";

impl TestApp {
    pub async fn spawn(db: Db) -> Self {
        Self::spawn_with(db, &[]).await
    }

    /// Starts an instance with extra setting overrides (`("api.token_ttl_secs", "1")`).
    pub async fn spawn_with(db: Db, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let database = db.fresh_database(&data_dir).await;
        let mut overrides: Vec<(&str, String)> = vec![
            ("data_dir", data_dir.display().to_string()),
            ("database.url", database.to_string()),
            ("api.addr", "127.0.0.1:0".into()),
            ("gateway.addr", "127.0.0.1:0".into()),
            ("vault.addr", "127.0.0.1:0".into()),
            // Each instance its own admin address (GET /metrics), never the shared default.
            ("admin.addr", "127.0.0.1:0".into()),
            ("workers", "1".into()),
            // The suite's peers (receivers, SMTP sinks, OAuth providers) listen on loopback,
            // which the egress policy refuses by default; egress tests override this with "".
            ("egress.allow", LOOPBACK_ALLOWED.into()),
            // Rate limits high enough that no test but the rate-limit tests (which override
            // these) ever meets them.
            ("api.rate_per_sec", "1000000".into()),
            ("api.rate_burst", "1000000".into()),
        ];
        overrides.extend(crate::wiring::tls_overrides());
        overrides.extend(crate::s3_wiring::store_overrides());
        overrides.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let settings =
            Settings::load(Some(Path::new("/nonexistent/sealpost.toml")), &overrides).unwrap();
        let (settings, split_vault) = crate::wiring::prepare(settings, &overrides).await;
        crate::secrets::capture_tracing(&settings.telemetry.filter);
        let instance = Instance::start(&settings).await.unwrap();
        let scheme = crate::wiring::scheme(&settings);
        Self {
            api: format!("{scheme}://{}", instance.api_addr),
            gateway: format!("{scheme}://{}", instance.gateway_addr),
            vault: format!("{scheme}://{}", instance.vault_addr),
            _dir: dir,
            client: crate::wiring::client(),
            instance: Some(instance),
            split_vault,
            settings,
            secret_grep_test: crate::secrets::test_name(),
            secret_grep_dumped: false,
            _database: database,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.settings.data_dir.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    pub fn default_key(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("producer-default.pem")).unwrap()
    }

    pub async fn login_response(&self, key: &str, email: &str) -> reqwest::Response {
        let form = Form::new()
            .text("key", key.to_owned())
            .text("email", email.to_owned());
        self.client
            .post(self.url("/login"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Logs in with `key` and returns the token.
    pub async fn login_with(&self, key: &str) -> String {
        let response = self.login_response(key, "operator@example.com").await;
        assert_eq!(response.status(), 200);
        let token = response.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        for part in token.split(' ') {
            crate::secrets::record("login token", part);
        }
        token
    }

    /// Logs in as the default producer.
    pub async fn login(&self) -> String {
        self.login_with(&self.default_key()).await
    }

    /// The instance's database, opened anew (also after `stop`), with the instance's record
    /// keys (so documents read back as the services see them).
    pub async fn repo(&self) -> std::sync::Arc<dyn schema::Repository> {
        shared::record_keys::connect(&self.settings).await.unwrap()
    }

    /// The gateway's handle signer, from the instance's key file.
    pub fn gateway_signer(&self) -> shared::handle::HandleSigner {
        let key_file = self.data_dir().join(sealpost::instance::GATEWAY_KEY_FILE);
        let key = shared::keys::SigningKey::load_or_create(&key_file).unwrap();
        shared::handle::HandleSigner::new(key)
    }

    /// What a handle for document `id` says, expiring `ttl_secs` from now (negative: already
    /// expired), as the gateway would issue it.
    pub async fn handle_claims(&self, id: &str, ttl_secs: i64) -> shared::handle::HandleClaims {
        let id = schema::DocumentId::parse(id).unwrap();
        let document = self
            .repo()
            .await
            .document_by_id(&id)
            .await
            .unwrap()
            .unwrap();
        shared::handle::HandleClaims {
            object: document.object_key,
            document: id,
            access_version: document.access_version.cast_unsigned(),
            viewer: shared::handle::ViewerRef::default(),
            expires_at: chrono::Utc::now() + chrono::Duration::seconds(ttl_secs),
            nonce: shared::handle::Nonce::random(),
        }
    }

    /// `{vault}/h/{handle}` for document `id`, signed with the instance's gateway key.
    pub async fn handle_url(&self, id: &str, ttl_secs: i64) -> String {
        let claims = self.handle_claims(id, ttl_secs).await;
        let handle = self.gateway_signer().sign(&claims);
        crate::secrets::record("handle", &handle);
        format!("{}/h/{handle}", self.vault)
    }

    /// A second producer, created through the library as `sealpost producer add` does.
    pub async fn add_producer(&self, name: &str) -> String {
        let repo = schema::connect(&self.settings.database_url())
            .await
            .unwrap();
        sealpost::producers::add(repo.as_ref(), name, Some("p@example.com"))
            .await
            .unwrap()
            .to_string()
    }

    pub fn get(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    /// `GET path` as `token`, parsed as JSON (whatever the status).
    pub async fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        self.get(token, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn delete(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(token)
    }

    pub async fn upload_form(&self, token: &str, form: Form) -> reqwest::Response {
        self.client
            .post(self.url("/documents"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `content` as `name` and returns the record JSON (asserting 201).
    pub async fn upload(&self, token: &str, name: &str, content: Vec<u8>) -> serde_json::Value {
        let response = self.upload_form(token, document_form(name, content)).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// The document's content; `Err` when the status is not 200 or the body breaks off.
    pub async fn download(&self, token: &str, id: &str) -> Result<Vec<u8>, String> {
        let response = self
            .get(token, &format!("/documents/{id}/document"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()));
        }
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| e.to_string())
    }

    /// Every regular file under the object store (staging files included); on an S3 store,
    /// every object and pending multipart upload under the instance's prefix.
    pub fn object_files(&self) -> Vec<PathBuf> {
        let store_url = self.settings.vault.store_url.trim();
        if store_url.is_empty() {
            files_under(&self.data_dir().join(OBJECTS_DIR))
        } else {
            crate::s3_wiring::object_keys(store_url)
        }
    }

    /// The stored bytes of an object [`object_files`](Self::object_files) listed.
    pub fn read_object(&self, path: &Path) -> Vec<u8> {
        match path.to_str().filter(|p| p.starts_with("s3://")) {
            Some(location) => crate::s3_wiring::read_object(location),
            None => std::fs::read(path).unwrap(),
        }
    }

    /// Replaces the stored bytes of an object [`object_files`](Self::object_files) listed.
    pub fn write_object(&self, path: &Path, bytes: &[u8]) {
        match path.to_str().filter(|p| p.starts_with("s3://")) {
            Some(location) => crate::s3_wiring::write_object(location, bytes),
            None => std::fs::write(path, bytes).unwrap(),
        }
    }

    /// Waits up to `seconds` for the object store to hold no file at all.
    pub async fn wait_for_no_objects(&self, seconds: u64) -> Vec<PathBuf> {
        for _ in 0..seconds * 10 {
            if self.object_files().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.object_files()
    }

    pub async fn stop(&mut self) {
        if let Some(instance) = self.instance.take() {
            instance.stop().await;
        }
        if let Some(vault) = self.split_vault.take() {
            vault.stop().await;
        }
        if !self.secret_grep_dumped {
            self.secret_grep_dumped = true;
            let tag = crate::secrets::next_tag(&self.secret_grep_test);
            let dir = crate::secrets::suite_dir();
            crate::secrets::dump(&self.settings, &self.secret_grep_test, &dir, &tag).await;
        }
    }
}

/// An app dropped without `stop` still has its logs dumped for the secret grep (on a thread of
/// its own, as `drop` cannot await); not while a test panics, which prints instead what the
/// services complained of.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            crate::secrets::print_server_complaints();
            return;
        }
        if self.secret_grep_dumped {
            return;
        }
        self.secret_grep_dumped = true;
        let settings = self.settings.clone();
        let test = self.secret_grep_test.clone();
        let dumped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let tag = crate::secrets::next_tag(&test);
            let dir = crate::secrets::suite_dir();
            runtime.block_on(crate::secrets::dump(&settings, &test, &dir, &tag));
        })
        .join();
        if dumped.is_err() {
            eprintln!(
                "secret grep: could not dump the logs of {}",
                self.secret_grep_test
            );
        }
    }
}

pub fn document_form(name: &str, content: Vec<u8>) -> Form {
    Form::new().part(
        "document",
        Part::bytes(content)
            .file_name(name.to_owned())
            .mime_str("application/pdf")
            .unwrap(),
    )
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
