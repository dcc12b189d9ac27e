//! The real peers, as child processes on loopback ports, stopped (by PID) when dropped.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A Python peer from `tests/peers/`, started with `args`; it prints `PORT <n>` once bound.
pub struct Peer {
    child: Child,
    pub port: u16,
}

impl Peer {
    pub fn start(script: &str, args: &[&str]) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/peers")
            .join(script);
        let mut child = Command::new("python3")
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"))
            .parse()
            .unwrap();
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tests/peers/http_receiver.py`.
pub struct HttpReceiver(pub Peer);

impl HttpReceiver {
    pub fn start() -> Self {
        Self(Peer::start("http_receiver.py", &["0"]))
    }

    pub fn start_on(port: u16) -> Self {
        Self(Peer::start("http_receiver.py", &[&port.to_string()]))
    }

    /// The statuses of the next requests (then 200), and a delay before every answer.
    pub async fn script(&self, statuses: &[u16], delay_ms: u64) {
        let response = reqwest::Client::new()
            .post(format!("{}/_control", self.0.url()))
            .json(&json!({"statuses": statuses, "delay_ms": delay_ms}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Every request received, in the order answered.
    pub async fn requests(&self) -> Vec<Value> {
        self.control().await["requests"].as_array().unwrap().clone()
    }

    /// How many requests arrived and wait for their answer (the scripted delay).
    pub async fn in_flight(&self) -> u64 {
        self.control().await["inFlight"].as_u64().unwrap()
    }

    async fn control(&self) -> Value {
        reqwest::get(format!("{}/_control", self.0.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// `tests/peers/smtp_sink.py`, saving messages into its own directory.
pub struct SmtpSink {
    pub peer: Peer,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Requiring AUTH with `user:password`.
    pub fn start_with_login(user_password: &str) -> Self {
        Self::start_with(&[user_password])
    }

    /// Offering and requiring STARTTLS with the PEM certificate chain and key given.
    pub fn start_with_tls(cert: &Path, key: &Path) -> Self {
        let tls = format!("tls={}:{}", cert.display(), key.display());
        Self::start_with(&[&tls])
    }

    fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["0", dir.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        let peer = Peer::start("smtp_sink.py", &args);
        Self { peer, dir }
    }

    /// The messages received: (envelope JSON, raw bytes), in arrival order.
    pub fn messages(&self) -> Vec<(Value, Vec<u8>)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let envelope = std::fs::read(eml.with_extension("json")).unwrap();
                (
                    serde_json::from_slice(&envelope).unwrap(),
                    std::fs::read(eml).unwrap(),
                )
            })
            .collect()
    }
}
