//! The command-line contract, exercised through the real binary.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_sealpost");

/// `sealpost up` as a child process.
pub struct Daemon {
    child: Child,
    pub api_addr: SocketAddr,
    pub data_dir: PathBuf,
    database_url: String,
    /// What it printed before the API address line.
    pub banner: Vec<String>,
}

impl Daemon {
    pub fn start(data_dir: &Path, database_url: &str) -> Self {
        Self::try_start(data_dir, database_url)
            .unwrap_or_else(|status| panic!("sealpost up exited: {status}"))
    }

    /// Starts `sealpost up` on port 0 everywhere; `Err` with the exit status when it stops
    /// before serving.
    pub fn try_start(data_dir: &Path, database_url: &str) -> Result<Self, String> {
        Self::try_start_with_env(data_dir, database_url, &[])
    }

    /// As [`try_start`](Self::try_start), with extra environment variables.
    pub fn try_start_with_env(
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
        let mut child = Command::new(BINARY)
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args([
                "--api-addr",
                "127.0.0.1:0",
                "--gateway-addr",
                "127.0.0.1:0",
                "--vault-addr",
                "127.0.0.1:0",
            ])
            .env("SEALPOST__DATABASE__URL", database_url)
            .env("SEALPOST__WORKERS", "1")
            // Loopback peers (see `common::LOOPBACK_ALLOWED`); `env` may override it.
            .env("SEALPOST__EGRESS__ALLOW", crate::common::LOOPBACK_ALLOWED)
            .envs(env.iter().copied())
            .current_dir(data_dir.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(stderr_path(data_dir)).unwrap(),
            ))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let api_addr = loop {
            match lines.next() {
                Some(Ok(line)) => match line.strip_prefix("API server: http://") {
                    Some(addr) => break addr.parse().unwrap(),
                    None => banner.push(line),
                },
                _ => {
                    let status = child.wait().unwrap();
                    let stderr = std::fs::read_to_string(stderr_path(data_dir)).unwrap_or_default();
                    return Err(format!("{status} {stderr}"));
                }
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self {
            child,
            api_addr,
            data_dir: data_dir.to_owned(),
            database_url: database_url.to_owned(),
            banner,
        })
    }

    /// The daemon's process id (to read its `/proc` status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("producer-default.pem")
    }

    pub async fn login_with(&self, key: &str) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("key", key.to_owned())
            .text("email", "ops@example.com");
        reqwest::Client::new()
            .post(format!("http://{}/login", self.api_addr))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self) -> String {
        let response = self
            .login_with(&std::fs::read_to_string(self.key_path()).unwrap())
            .await;
        assert_eq!(response.status(), 200);
        response.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits (at most 20 s) for a clean exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no clean exit within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    /// Never leaves `sealpost up` running (a failing test would), then hands the daemon's three
    /// audit logs and its stderr (its tracing output) to the suite-wide secret grep, as
    /// [`crate::common::TestApp`] does for in-process instances.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let overrides = [
            ("data_dir", self.data_dir.display().to_string()),
            ("database.url", self.database_url.clone()),
        ];
        let Ok(settings) = shared::config::Settings::load(None, &overrides) else {
            return;
        };
        let stderr = stderr_path(&self.data_dir);
        let test = crate::secrets::test_name();
        let dumped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let tag = crate::secrets::next_tag(&test);
            let dir = crate::secrets::suite_dir();
            runtime.block_on(crate::secrets::dump(&settings, &test, &dir, &tag));
            let _ = std::fs::copy(&stderr, dir.join("logs").join(format!("{tag}-stderr.log")));
        })
        .join();
        if dumped.is_err() {
            eprintln!("secret grep: could not dump the logs of a sealpost up daemon");
        }
    }
}

/// Where a daemon's diagnostics go: beside the data directory, never inside it.
pub(crate) fn stderr_path(data_dir: &Path) -> PathBuf {
    data_dir.with_extension("stderr.log")
}

pub(crate) fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite:{}", data_dir.join("sealpost.db").display())
}

#[tokio::test]
async fn up_creates_the_default_producer_once_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    let key_path = daemon.key_path();
    assert!(
        daemon
            .banner
            .iter()
            .any(|line| line.contains("producer-default.pem")),
        "{:?}",
        daemon.banner
    );
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    daemon.login().await;
    assert!(daemon.terminate().success(), "SIGTERM is a clean shutdown");

    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    assert!(
        daemon.banner.iter().all(|line| !line.contains("Created")),
        "{:?}",
        daemon.banner
    );
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key,
        "the key is not replaced"
    );
    daemon.login().await;
    daemon.terminate();
}

#[tokio::test]
async fn producer_add_works_while_up_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    let output = Command::new(BINARY)
        .args([
            "producer",
            "add",
            "acme",
            "--email",
            "ops@acme.example",
            "--data-dir",
        ])
        .arg(&data_dir)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pem = String::from_utf8(output.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let response = daemon.login_with(&pem).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["producer"],
        "acme"
    );

    let again = Command::new(BINARY)
        .args(["producer", "add", "acme", "--email", "x@y.z", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    daemon.terminate();
}

#[tokio::test]
async fn key_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    Daemon::start(&data_dir, &sqlite_url(&data_dir)).terminate();
    for file in [
        sealpost::instance::KEYRING_FILE,
        sealpost::instance::INSTANCE_KEY_FILE,
    ] {
        let path = data_dir.join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = Daemon::try_start(&data_dir, &sqlite_url(&data_dir))
            .err()
            .expect("must refuse to start");
        assert!(
            error.contains(file) && error.contains("chmod 600"),
            "{error}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Daemon::start(&data_dir, &sqlite_url(&data_dir)).terminate();
}

#[test]
fn help_explains_the_commands() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for word in ["up", "producer", "vault", "gateway", "--config"] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
    let output = Command::new(BINARY)
        .args(["up", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in ["--data-dir", "--api-addr", "--gateway-addr", "--vault-addr"] {
        assert!(help.contains(flag), "{flag}");
    }
}

#[tokio::test]
async fn the_servers_own_log_carries_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    let traffic = crate::telemetry::traffic(&daemon).await;
    assert!(daemon.terminate().success());
    let log = std::fs::read_to_string(stderr_path(&data_dir)).unwrap();
    assert!(
        log.contains("POST /documents 201"),
        "requests are traced:\n{log}"
    );
    crate::telemetry::assert_no_secret(&log, &traffic);
}

#[tokio::test]
async fn environment_variables_override_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::write(
        dir.path().join("sealpost.toml"),
        "[api]\nsecurity = \"high\"\n",
    )
    .unwrap();
    let browse = |daemon: &Daemon, token: String| {
        let url = format!("http://{}/documents", daemon.api_addr);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let daemon = Daemon::start(&data_dir, &sqlite_url(&data_dir));
    let response = browse(&daemon, daemon.login().await).await;
    assert_eq!(
        response.status(),
        405,
        "the file's high-security mode applies"
    );
    assert_eq!(response.headers()["allow"], "POST");
    daemon.terminate();

    let daemon = Daemon::try_start_with_env(
        &data_dir,
        &sqlite_url(&data_dir),
        &[("SEALPOST__API__SECURITY", "low")],
    )
    .unwrap();
    assert_eq!(
        browse(&daemon, daemon.login().await).await.status(),
        200,
        "the environment wins"
    );
    daemon.terminate();

    let error = Daemon::try_start_with_env(
        &data_dir,
        &sqlite_url(&data_dir),
        &[("SEALPOST__API__SECURITY", "extreme")],
    )
    .err()
    .expect("an invalid value is refused at start-up");
    assert!(error.contains("configuration"), "{error}");
}

/// The key `sealpost producer add` hands out (and `up` writes for the default producer) is
/// PKCS#8 v1, which the usual tools load: OpenSSL, Node's `crypto`, Python's `cryptography`
/// (ring's own v2 form is refused by all three).
#[test]
fn producer_keys_load_in_openssl_node_and_python() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BINARY)
        .args(["producer", "add", "tools", "--email", "ops@tools.example"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let pem = dir.path().join("tools.pem");
    std::fs::write(&pem, &output.stdout).unwrap();
    let run = |program: &str, args: &[&str]| {
        let output = Command::new(program).args(args).output().unwrap();
        assert!(output.status.success(), "{program}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let path = pem.to_str().unwrap();
    let text = run("openssl", &["pkey", "-in", path, "-noout", "-text"]);
    assert!(text.contains("ED25519 Private-Key"), "{text}");
    let node = "const c = require('crypto'); const fs = require('fs'); \
                console.log(c.createPrivateKey(fs.readFileSync(process.argv[1])).asymmetricKeyType)";
    assert_eq!(run("node", &["-e", node, path]).trim(), "ed25519");
    let python = "import sys\n\
                  from cryptography.hazmat.primitives.serialization import load_pem_private_key\n\
                  key = load_pem_private_key(open(sys.argv[1], 'rb').read(), None)\n\
                  print(type(key).__name__)";
    assert!(run("python3", &["-c", python, path]).contains("Ed25519PrivateKey"));
}
