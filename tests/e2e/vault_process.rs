//! The real `vault` binary as its own process: `sealpost up` stores, reads and deletes through
//! it, and a failed upload leaves nothing there.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::cli::Daemon;
use crate::common::{Db, document_form, files_under, on_both_databases, pseudo_random, sha1_hex};

on_both_databases!(sealpost_up_stores_through_the_vault_binary);

/// `vault` as a child process, stopped with SIGTERM.
struct VaultProcess {
    child: Child,
    addr: SocketAddr,
}

impl VaultProcess {
    fn start(data_dir: &Path, database_url: &str, handle_key: &str) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let stderr = std::fs::File::create(data_dir.with_extension("vault.log")).unwrap();
        let mut child = Command::new(crate::service_binaries::binary("vault"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("SEALPOST__DATABASE__URL", database_url)
            .env("SEALPOST__WORKERS", "1")
            // A list from the environment, as in docker-compose.yml.
            .env(
                "SEALPOST__VAULT__HANDLE_PUBLIC_KEYS",
                format!("{handle_key},{handle_key}"),
            )
            .current_dir(data_dir.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let url = crate::service_binaries::wait_for_banner(
            &mut child,
            "Vault",
            &data_dir.with_extension("vault.log"),
        );
        let addr = url.strip_prefix("http://").unwrap().parse().unwrap();
        Self { child, addr }
    }

    /// SIGTERM, then a clean exit within 20 s.
    fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

async fn sealpost_up_stores_through_the_vault_binary(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let database_url = db.fresh_database(&data_dir).await;
    // The vault is given only the public half of the gateway's key, never the key file.
    std::fs::create_dir_all(&data_dir).unwrap();
    let gateway_key = shared::keys::SigningKey::load_or_create(
        &data_dir.join(sealpost::instance::GATEWAY_KEY_FILE),
    )
    .unwrap();
    let vault_dir = dir.path().join("vault-data");
    let vault = VaultProcess::start(
        &vault_dir,
        &database_url,
        &URL_SAFE_NO_PAD.encode(gateway_key.public_key()),
    );
    let token_file = vault_dir.join(vault::internal::credential::SERVICE_TOKEN_FILE);
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600,
        "the vault creates its service token file 0600"
    );
    let token_path = token_file.display().to_string();
    let internal_url = format!("http://{}", vault.addr);
    let daemon = Daemon::try_start_with_env(
        &data_dir,
        &database_url,
        &[
            ("SEALPOST__VAULT__INTERNAL_URL", internal_url.as_str()),
            ("SEALPOST__VAULT__SERVICE_TOKEN_FILE", token_path.as_str()),
        ],
    )
    .unwrap();
    let objects = vault_dir.join(sealpost::instance::OBJECTS_DIR);
    assert!(
        !data_dir.join(sealpost::instance::KEYRING_FILE).exists(),
        "sealpost up with a remote vault never holds a key-encryption key"
    );

    let api = format!("http://{}", daemon.api_addr);
    let token = daemon.login().await;
    let http = reqwest::Client::new();
    let content = pseudo_random(300_000, 42);
    let response = http
        .post(format!("{api}/documents"))
        .bearer_auth(&token)
        .multipart(document_form("split.bin", content.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["hash"]["value"], sha1_hex(&content));
    let id = record["id"].as_str().unwrap();
    assert_eq!(
        files_under(&objects).len(),
        1,
        "stored in the vault's own store"
    );
    let back = http
        .get(format!("{api}/documents/{id}/document"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 200);
    assert!(back.bytes().await.unwrap() == content);

    // A bad part after the document: 422, and nothing remains in the vault when it answers.
    let form = document_form("b.bin", vec![1; 200_000]).text("challenge", "\"nope\"");
    let response = http
        .post(format!("{api}/documents"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        files_under(&objects).len(),
        1,
        "{:?}",
        files_under(&objects)
    );

    let response = http
        .delete(format!("{api}/documents/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(
        files_under(&objects).is_empty(),
        "{:?}",
        files_under(&objects)
    );
    assert!(daemon.terminate().success());
    assert!(vault.terminate(), "SIGTERM is a clean shutdown");
}
