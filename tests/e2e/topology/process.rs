//! The service binaries (`api-server`, `gateway`, `vault`) as child processes, started with
//! nothing but the environment a compose service gives them.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::service_binaries::binary;
use crate::service_binaries::wait_for_banner;

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
        let base_url = wait_for_banner(&mut child, banner, &stderr);
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
