//! The workspace's service binaries (`vault`, `api-server`, `gateway`) as child processes, for
//! the tests that run them as their own processes (`vault_process`, `s3::crash`, `topology`).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A service binary beside the test's own build (`target/<profile>/NAME`). Cargo gives a
/// package's tests only its own binaries, so the three are built here, once per test process,
/// when the test runs under cargo (a no-op after `scripts/test`'s workspace build).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let sealpost = Path::new(env!("CARGO_BIN_EXE_sealpost"));
    let profile_dir = sealpost.parent().unwrap();
    BUILT.call_once(|| {
        let Ok(cargo) = std::env::var("CARGO") else {
            return;
        };
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet"]);
        build.args(["-p", "vault", "-p", "api-server", "-p", "gateway"]);
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

/// Waits for the line `{banner}: URL` a service prints once it serves (its stdout piped) and
/// returns URL; the rest of its stdout is drained on a thread. Panics with the service's
/// stderr (written to `stderr`) if it exits first.
pub fn wait_for_banner(child: &mut Child, banner: &str, stderr: &Path) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let prefix = format!("{banner}: ");
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix(&prefix) {
                    break url.to_owned();
                }
            }
            _ => panic!(
                "{banner} exited: {:?} {}",
                child.wait(),
                std::fs::read_to_string(stderr).unwrap_or_default()
            ),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    url
}
