//! `kill -9` of a real `vault` process mid-upload on S3: the multipart upload it leaves pending
//! is aborted, and its row deleted, by the restarted vault's start-up sweep.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use vault::internal::{RemoteVault, ServiceCredential};

use super::{new_bucket, objects, pending_uploads};
use crate::common::{Db, on_both_databases, pseudo_random};

on_both_databases!(a_killed_upload_is_aborted_by_the_restarts_sweep);

/// The `vault` binary beside the test's own build, built first under cargo (as in
/// `vault_process.rs`).
fn vault_binary() -> PathBuf {
    let sealpost = Path::new(env!("CARGO_BIN_EXE_sealpost"));
    let profile_dir = sealpost.parent().unwrap();
    if let Ok(cargo) = std::env::var("CARGO") {
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "vault", "--bin", "vault"]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status();
        assert!(status.unwrap().success(), "building the vault binary");
    }
    profile_dir.join("vault")
}

/// A `vault` process on S3, configured through the environment only.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Process {
    fn start(data_dir: &Path, database_url: &str, store_url: &str) -> Self {
        let handle_key = URL_SAFE_NO_PAD.encode(pseudo_random(32, 1));
        let log = std::fs::File::create(data_dir.with_extension("vault.log")).unwrap();
        let mut child = Command::new(vault_binary())
            .args([
                "--addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("SEALPOST__DATABASE__URL", database_url)
            .env("SEALPOST__WORKERS", "1")
            .env("SEALPOST__VAULT__HANDLE_PUBLIC_KEYS", handle_key)
            .env("SEALPOST__VAULT__STORE_URL", store_url)
            // Anything older than a second is an orphan to the start-up sweep.
            .env("SEALPOST__VAULT__ORPHAN_GRACE_SECS", "1")
            .current_dir(data_dir.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The address is printed once the start-up sweep is done and the socket bound.
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("Vault: http://") {
                        break addr.parse().unwrap();
                    }
                }
                _ => panic!(
                    "vault exited: {:?} {}",
                    child.wait(),
                    std::fs::read_to_string(data_dir.with_extension("vault.log"))
                        .unwrap_or_default()
                ),
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr }
    }

    fn client(&self, data_dir: &Path) -> RemoteVault {
        let token = data_dir.join(vault::internal::credential::SERVICE_TOKEN_FILE);
        let credential = ServiceCredential::load(&token, false).unwrap();
        RemoteVault::new(&format!("http://{}", self.addr), credential).unwrap()
    }

    /// `kill -9`: no clean-up of any kind.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn a_killed_upload_is_aborted_by_the_restarts_sweep(db: Db) {
    let bucket = new_bucket("crash").await;
    let store_url = format!("s3://{bucket}/vault");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let database = db.fresh_database(&data_dir).await;
    let repo = schema::connect(&database).await.unwrap();

    let vault = Process::start(&data_dir, &database, &store_url);
    let client = vault.client(&data_dir);
    // Six MiB (one part out), then a body that never ends.
    let first = bytes::Bytes::from(pseudo_random(6 << 20, 2));
    let endless = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
        .chain(futures_util::stream::pending());
    let upload =
        tokio::spawn(async move { client.put(Box::pin(endless), u64::MAX).await.map(drop) });

    // Until the vault recorded the upload's id in the row.
    let deadline = Instant::now() + Duration::from_secs(60);
    let recorded = loop {
        let far = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        if let Some(key) = repo.orphan_objects(far).await.unwrap().first()
            && let Some(id) = repo.object_upload(key).await.unwrap()
        {
            break (key.clone(), id);
        }
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (key, _) = &recorded;
    vault.kill();
    upload.abort();
    let pending = pending_uploads(&bucket).await;
    assert_eq!(
        pending.len(),
        1,
        "the crash left a pending upload: {pending:?}"
    );
    assert!(pending[0].starts_with("vault/objects/") && pending[0].ends_with(key.as_str()));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let restarted = Process::start(&data_dir, &database, &store_url);
    assert_eq!(pending_uploads(&bucket).await, Vec::<String>::new());
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
    assert_eq!(repo.object(key).await.unwrap(), None, "the row is gone");
    restarted.kill();
}
