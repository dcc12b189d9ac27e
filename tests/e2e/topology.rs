//! The topology test (issue 19, item 4): one API server, two gateways and two vaults, each the
//! real service binary in a process of its own, configured only by what `docker-compose.yml`
//! (and the `Dockerfile`'s `ENV`) gives its service, over the test PostgreSQL and the S3 server
//! (moto, `SEALPOST_TEST_S3_ENDPOINT`). What must hold whichever process answers: a viewing
//! through gateway A downloaded from vault B, Digest started on A and finished on B (and its
//! counter refused on A afterwards), a lockout counted across both gateways, a key rotation
//! while both vaults serve, a delete seen by all four (the gateways within a second), and one verified `GET /logs`
//! holding records of both gateways and both vaults.

mod compose;
mod loopback;
mod process;
mod setup;
mod viewer;

use std::path::Path;

use serde_json::Value;

use compose::{Compose, Service};
use loopback::Loopback;
use process::free_addr;
use setup::{
    Addresses, check_dotenv_instructions, check_environments, check_images_and_s3, dotenv,
    make_bucket, make_key_files, run_sealpost, secret_files, start,
};
use viewer::{Api, Doc, digest_authorization, download, handle_of, on_vault};

use crate::gateway::{audience, basic, digest, field, literal, no_redirects};
use crate::gateway_cache::eventually_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_api_two_gateways_two_vaults_from_the_compose_file() {
    if std::env::var_os(crate::wiring::WIRING_VAR).is_some() {
        // The topology does not depend on the suite's wiring, TLS or S3 passes: it runs once,
        // in the first pass, with its own wiring (the compose file's).
        eprintln!("topology: runs in the first pass of scripts/test only");
        return;
    }
    let (s3_endpoint, bucket) = make_bucket().await;
    let database = schema::testing::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let addresses = Addresses {
        api: free_addr(),
        gateways: [free_addr(), free_addr()],
        vaults: [free_addr(), free_addr()],
    };
    let handle_key = make_key_files(&dir.path().join("host"));
    let dotenv = dotenv(&addresses, &bucket, &handle_key);
    for name in ["S3_SECRET_ACCESS_KEY", "SEALPOST_VAULT_SERVICE_TOKEN"] {
        crate::secrets::record(name, &dotenv[name]);
    }
    let compose = Compose::load(&dotenv);
    check_dotenv_instructions(&compose, &dotenv);
    check_environments(&compose);
    check_images_and_s3(&compose, &bucket);
    let secrets = secret_files(&compose, &dir.path().join("host"));
    assert_eq!(
        compose.service("vault").env["SEALPOST__VAULT__STORE_URL"],
        format!("s3://{bucket}")
    );
    let loopback = Loopback {
        database_url: database.url().to_owned(),
        s3_endpoint,
        vault: addresses.vaults[0],
        root: dir.path().to_owned(),
        hosts: compose.hosts.clone(),
    };
    let vault = compose.service("vault");
    // Both vaults start at once on the empty volume, as `--scale vault=2` starts them: one
    // creates the shared keyring, the other loads it (the downloads below cross them).
    let vaults = std::thread::scope(|scope| {
        let [a, b] = [("vault-a", 0), ("vault-b", 1)].map(|(name, i)| {
            let (loopback, secrets, listen) = (&loopback, &secrets, addresses.vaults[i]);
            scope.spawn(move || start(loopback, vault, secrets, (name, "Vault"), listen))
        });
        [a.join().unwrap(), b.join().unwrap()]
    });
    let api_service = compose.service("api");
    let api = start(
        &loopback,
        api_service,
        &secrets,
        ("api", "API server"),
        addresses.api,
    );
    let gateway = compose.service("gateway");
    let gateways = [("gateway-a", 0), ("gateway-b", 1)].map(|(name, i)| {
        start(
            &loopback,
            gateway,
            &secrets,
            (name, "Gateway"),
            addresses.gateways[i],
        )
    });
    let pem = run_sealpost(
        &loopback,
        api_service,
        &["producer", "add", "topology", "--email", "ops@example.com"],
    );
    let api_client = Api::login(&api.base_url, &pem).await;
    let topology = Running {
        api: api_client,
        gateways: [gateways[0].base_url.clone(), gateways[1].base_url.clone()],
        vaults: [vaults[0].base_url.clone(), vaults[1].base_url.clone()],
        vault_url: dotenv["SEALPOST_VAULT_URL"].clone(),
    };
    let docs = topology.scenario(&loopback, vault).await;
    objects_are_in_the_bucket(&loopback, &bucket, vault).await;
    topology.logs_hold_every_process(&docs, dir.path()).await;

    for process in gateways.into_iter().chain(vaults).chain([api]) {
        let stderr = process.stderr.clone();
        let name = process.name.clone();
        process.terminate();
        dump_stderr(&name, &stderr);
    }
    dump_audit_logs(&loopback.volume(&gateway.volume), database.url()).await;
}

/// The running processes' public addresses and the producer's API client.
struct Running {
    api: Api,
    gateways: [String; 2],
    vaults: [String; 2],
    /// The vault URL handles are minted under (`SEALPOST_VAULT_URL`: vault A).
    vault_url: String,
}

/// Documents whose records tell the processes apart in the logs.
struct Docs {
    /// Viewed through gateway A only.
    only_gateway_a: String,
    /// Viewed through gateway B only.
    only_gateway_b: String,
}

impl Running {
    async fn scenario(&self, loopback: &Loopback, vault: &Service) -> Docs {
        let alpha = self.links_on_a_download_from_b().await;
        self.digest_across_gateways().await;
        self.lockout_across_gateways().await;
        let delta = self
            .rotation_while_both_serve(loopback, vault, &alpha)
            .await;
        self.delete_seen_at_once().await;
        Docs {
            only_gateway_a: alpha.doc.id,
            only_gateway_b: delta.id,
        }
    }

    /// Upload, links, a viewing through gateway A whose handle vault B serves.
    async fn links_on_a_download_from_b(&self) -> Linked {
        let doc = self
            .api
            .upload(b"alpha through A, from B", &[("audience", audience())])
            .await;
        let links = self.api.links(&doc.id).await;
        let link = links[0]["href"].as_str().unwrap().to_owned();
        assert!(
            link.starts_with(&format!("{}/l/", self.gateways[0])),
            "{link}"
        );
        let handle = handle_of(&no_redirects(), &link).await;
        let body = download(&on_vault(&handle, &self.vault_url, &self.vaults[1]), "b").await;
        assert_eq!(body, b"alpha through A, from B");
        Linked { doc, link }
    }

    /// The 401 (and its nonce) from gateway A, the answer accepted by gateway B, the same
    /// counter then refused by A as a replay, the next counter accepted by A.
    async fn digest_across_gateways(&self) {
        let doc = self
            .api
            .upload(
                b"beta by Digest",
                &[("challenge", digest(literal("ann:pw")))],
            )
            .await;
        let path = format!("/{}", doc.placeholder);
        let client = no_redirects();
        let first = client
            .get(format!("{}{path}", self.gateways[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 401);
        let challenge = first
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .find(|value| value.contains("algorithm=SHA-256"))
            .expect("a SHA-256 Digest challenge");
        let send = |gateway: &str, nc: &str| {
            client
                .get(format!("{gateway}{path}"))
                .header("authorization", digest_authorization(&challenge, &path, nc))
                .send()
        };
        let on_b = send(&self.gateways[1], "00000001").await.unwrap();
        assert_eq!(on_b.status(), 303, "a nonce from gateway A, answered on B");
        let handle = on_b.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(download(&handle, "a").await, b"beta by Digest");
        let replay = send(&self.gateways[0], "00000001").await.unwrap();
        assert_eq!(
            replay.status(),
            401,
            "the counter B accepted is a replay on A"
        );
        let next = send(&self.gateways[0], "00000002").await.unwrap();
        assert_eq!(next.status(), 303, "the next counter, on A");
    }

    /// Five failures for one viewer, alternating between the gateways, lock it on both.
    async fn lockout_across_gateways(&self) {
        let doc = self
            .api
            .upload(
                b"gamma locked",
                &[
                    ("audience", audience()),
                    ("challenge", basic(field("code"))),
                ],
            )
            .await;
        let harry = |gateway: &str| {
            format!(
                "{gateway}/{}?telephone=4154445511&first_name=Harry",
                doc.placeholder
            )
        };
        let client = no_redirects();
        for attempt in 0..5 {
            let response = client
                .get(harry(&self.gateways[attempt % 2]))
                .basic_auth("", Some("wrong"))
                .send()
                .await
                .unwrap();
            let expected = if attempt < 4 { 401 } else { 429 };
            assert_eq!(response.status(), expected, "failure {}", attempt + 1);
        }
        for gateway in &self.gateways {
            let right = client
                .get(harry(gateway))
                .basic_auth("", Some("tiger"))
                .send()
                .await
                .unwrap();
            assert_eq!(right.status(), 429, "locked on {gateway} too");
        }
    }

    /// `sealpost vault rotate-key` over the vaults' shared keyring while both serve; both then
    /// serve the document stored before and one stored after, and so does the API.
    async fn rotation_while_both_serve(
        &self,
        loopback: &Loopback,
        vault: &Service,
        old: &Linked,
    ) -> Doc {
        let keyring = loopback
            .volume(&vault.volume)
            .join(sealpost::instance::KEYRING_FILE);
        let before = current_kek(&keyring);
        let client = no_redirects();
        let old_handle = handle_of(&client, &old.link).await;
        let reader = self.keep_downloading(&old_handle);
        let report =
            tokio::task::block_in_place(|| run_sealpost(loopback, vault, &["vault", "rotate-key"]));
        reader.stop().await;
        assert_ne!(current_kek(&keyring), before, "{report}");
        let new = self.api.upload(b"delta after the rotation", &[]).await;
        let new_handle = handle_of(
            &client,
            &format!("{}/{}", self.gateways[1], new.placeholder),
        )
        .await;
        for (index, vault) in self.vaults.iter().enumerate() {
            let agent = ["a", "b"][index];
            let body = download(&on_vault(&old_handle, &self.vault_url, vault), agent).await;
            assert_eq!(body, b"alpha through A, from B", "old document on {vault}");
            let body = download(&on_vault(&new_handle, &self.vault_url, vault), agent).await;
            assert_eq!(body, b"delta after the rotation", "new document on {vault}");
        }
        assert_eq!(
            self.api.content(&old.doc.id).await,
            b"alpha through A, from B"
        );
        assert_eq!(self.api.content(&new.id).await, b"delta after the rotation");
        new
    }

    /// Downloads `handle` from both vaults, over and over, until stopped: every answer must be
    /// the content (a rotation never interrupts serving).
    fn keep_downloading(&self, handle: &str) -> Reader {
        let urls: Vec<(String, &str)> = self
            .vaults
            .iter()
            .zip(["a", "b"])
            .map(|(vault, agent)| (on_vault(handle, &self.vault_url, vault), agent))
            .collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut rounds = 0;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                for (url, agent) in &urls {
                    assert_eq!(download(url, agent).await, b"alpha through A, from B");
                }
                rounds += 1;
            }
            rounds
        });
        Reader { stop, task }
    }

    /// A deleted document: both vaults refuse a handle minted before at once, and both gateways
    /// its placeholder within a second.
    async fn delete_seen_at_once(&self) {
        let doc = self.api.upload(b"epsilon, then deleted", &[]).await;
        let client = no_redirects();
        let placeholder = |gateway: &str| format!("{gateway}/{}", doc.placeholder);
        let handle = handle_of(&client, &placeholder(&self.gateways[0])).await;
        let body = download(&on_vault(&handle, &self.vault_url, &self.vaults[1]), "b").await;
        assert_eq!(body, b"epsilon, then deleted");
        self.api.delete(&doc.id).await;
        for vault in &self.vaults {
            let response = reqwest::get(on_vault(&handle, &self.vault_url, vault))
                .await
                .unwrap();
            assert!(
                [404, 410].contains(&response.status().as_u16()),
                "{vault} after the delete: {}",
                response.status()
            );
        }
        // A gateway's placeholder cache keeps an entry up to 1 s (issue 20): polled.
        for gateway in &self.gateways {
            let gone = [404, 410];
            let status = eventually_with(&client, &placeholder(gateway), &gone).await;
            assert!(
                gone.contains(&status),
                "{gateway} after the delete: {status}"
            );
        }
    }

    /// `GET /logs` verifies (library and `sealpost logs verify`) and holds records written by
    /// each gateway (a document only it served) and each vault (the user agent only its
    /// downloads carried); the vaults write theirs in batches, so it is polled.
    async fn logs_hold_every_process(&self, docs: &Docs, dir: &Path) {
        let keys_url = format!("{}/.well-known/sealpost-keys", self.api.base);
        let keys: shared::logzip::KeySet =
            reqwest::get(&keys_url).await.unwrap().json().await.unwrap();
        let path = dir.join("logs.zip");
        for _ in 0..60 {
            std::fs::write(&path, self.api.logs().await).unwrap();
            shared::logzip::verify(&path, &keys).await.unwrap();
            let entries = crate::logs_export::entries(&path).await;
            let gateway = crate::logs_export::entry(&entries, "gateway.log");
            let vault = crate::logs_export::entry(&entries, "vault.log");
            let by_doc = |id: &str| gateway.lines().any(|line| line.starts_with(id));
            assert!(by_doc(&docs.only_gateway_a), "{gateway}");
            assert!(by_doc(&docs.only_gateway_b), "{gateway}");
            let agents = [viewer::agent("a"), viewer::agent("b")];
            let by_agent = |agent: &str| {
                vault
                    .lines()
                    .any(|line| line.ends_with(&format!("\t{agent}")))
            };
            if agents.iter().all(|agent| by_agent(agent)) {
                let output = std::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
                    .args(["logs", "verify"])
                    .arg(&path)
                    .args(["--key", &keys_url])
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        panic!("the vault log never held records of both vaults");
    }
}

/// Downloads running in the background ([`Running::keep_downloading`]).
struct Reader {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<u32>,
}

impl Reader {
    /// Stops it; it must have completed at least one round from both vaults.
    async fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = self
            .task
            .await
            .expect("every download during the rotation succeeded");
        assert!(rounds >= 1, "no download completed during the rotation");
    }
}

/// A document and one of its sealed links.
struct Linked {
    doc: Doc,
    link: String,
}

/// The vaults stored the four documents left in the bucket, not in their volume.
async fn objects_are_in_the_bucket(loopback: &Loopback, bucket: &str, vault: &Service) {
    let objects = crate::s3::objects(bucket).await;
    assert!(objects.len() >= 4, "{objects:?}");
    let local = loopback
        .volume(&vault.volume)
        .join(sealpost::instance::OBJECTS_DIR);
    assert!(!local.exists(), "{}", local.display());
}

/// The id of the key-encryption key new data keys are wrapped under.
fn current_kek(keyring: &Path) -> String {
    let json: Value = serde_json::from_slice(&std::fs::read(keyring).unwrap()).unwrap();
    json["current"].as_str().unwrap().to_owned()
}

/// Hands a process's stderr (its tracing output) to the suite-wide secret grep.
fn dump_stderr(name: &str, stderr: &Path) {
    let logs = crate::secrets::suite_dir().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let tag = crate::secrets::next_tag(&crate::secrets::test_name());
    std::fs::copy(stderr, logs.join(format!("{tag}-{name}-stderr.log"))).unwrap();
}

/// Hands the three audit logs to the secret grep (with the gateway's keys, which recognise
/// handles and sealed links in them).
async fn dump_audit_logs(gateway_dir: &Path, database_url: &str) {
    let overrides = [
        ("data_dir", gateway_dir.display().to_string()),
        ("database.url", database_url.to_owned()),
    ];
    let settings = shared::config::Settings::load(None, &overrides).unwrap();
    let test = crate::secrets::test_name();
    let tag = crate::secrets::next_tag(&test);
    crate::secrets::dump(&settings, &test, &crate::secrets::suite_dir(), &tag).await;
}
