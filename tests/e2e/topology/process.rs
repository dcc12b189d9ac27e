//! The service binaries (`api-server`, `gateway`, `vault`) as child processes, started with
//! nothing but the environment a compose service gives them.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's service binaries beside the test's own build (`target/<profile>/`). Cargo
/// gives a package's tests only its own binaries, so they are built here when the test runs
/// under cargo (a no-op after `scripts/test`'s workspace build).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let sealpost = Path::new(env!("CARGO_BIN_EXE_sealpost"));
    let profile_dir = sealpost.parent().unwrap();
    BUILT.call_once(|| {
        let Ok(cargo) = std::env::var("CARGO") else {
            return;
        };
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "vault",
            "-p",
            "api-server",
            "-p",
            "gateway",
        ]);
        build.args(["--bin", "vault", "--bin", "api-server", "--bin", "gateway"]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the service binaries");
    });
    let binary = profile_dir.join(name);
    assert!(binary.exists(), "{} is missing", binary.display());
    binary
}

/// A free loopback port (bound, then released for the service to take).
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// One running service process.
pub struct ServiceProcess {
    pub name: String,
    child: Child,
    pub base_url: String,
    pub stderr: PathBuf,
}

impl ServiceProcess {
    /// Starts `command` (its binary name first) with exactly `env` (nothing inherited) in
    /// `dir`, and waits for the line `{banner}: http://…` it prints once it serves.
    pub fn start(
        name: &str,
        command: &[String],
        env: &BTreeMap<String, String>,
        dir: &Path,
        banner: &str,
    ) -> Self {
        let stderr = dir.parent().unwrap().join(format!("{name}.stderr.log"));
        let mut child = Command::new(binary(&command[0]))
            .args(&command[1..])
            .env_clear()
            .envs(env)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let prefix = format!("{banner}: ");
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix(&prefix) {
                        break url.to_owned();
                    }
                }
                _ => panic!(
                    "{name} exited: {:?} {}",
                    child.wait(),
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                ),
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            name: name.to_owned(),
            child,
            base_url,
            stderr,
        }
    }

    /// SIGTERM, then a clean exit (status 0) within 20 s.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{}: {status}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{} did not stop within 20 s of SIGTERM", self.name);
    }
}

impl Drop for ServiceProcess {
    /// Never leaves a service running (a failing test would).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
