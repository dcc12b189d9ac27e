//! What must differ when a compose service runs on this machine instead of its container, and
//! nothing else: the database URL (the test's fresh PostgreSQL database for `postgres`), the S3
//! endpoint (moto for the compose file's S3 server), `vault` (one vault's address, as the
//! compose network's name is), `0.0.0.0:PORT` (a loopback port of its own) and `/data` (the
//! directory standing for the service's named volume, shared by its replicas as the volume is).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::compose::Service;
use super::process::free_addr;

/// Where the compose network's names lead on loopback.
pub struct Loopback {
    pub database_url: String,
    pub s3_endpoint: String,
    /// The vault the name `vault` stands for.
    pub vault: SocketAddr,
    /// Named volumes live under `root/volumes/NAME`.
    pub root: PathBuf,
    /// The compose network's host names (its services): none may be left.
    pub hosts: BTreeSet<String>,
}

/// One replica's concrete start: command, complete environment, working directory.
pub struct Start {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub dir: PathBuf,
}

impl Loopback {
    /// The directory standing for a named volume.
    pub fn volume(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    /// `service` as one replica listening on `listen`; its admin address gets a free port.
    pub fn localize(&self, service: &Service, listen: SocketAddr) -> Start {
        let dir = self.volume(&service.volume);
        std::fs::create_dir_all(&dir).unwrap();
        let command: Vec<String> = service
            .command
            .iter()
            .map(|arg| self.value(arg, listen, &dir))
            .collect();
        let env = service
            .env
            .iter()
            .map(|(key, value)| {
                let value = if key == "SEALPOST__ADMIN__ADDR" {
                    assert!(value.starts_with("0.0.0.0:"), "{key}={value}");
                    free_addr().to_string()
                } else {
                    self.value(value, listen, &dir)
                };
                (key.clone(), value)
            })
            .collect::<BTreeMap<_, _>>();
        for value in env.values().chain(&command) {
            let host = host(value).unwrap_or_default();
            assert!(
                !self.hosts.contains(host),
                "{value} still names a compose host"
            );
        }
        Start { command, env, dir }
    }

    fn value(&self, value: &str, listen: SocketAddr, dir: &Path) -> String {
        if value.starts_with("0.0.0.0:") {
            return listen.to_string();
        }
        if let Some(rest) = value.strip_prefix("/data") {
            return format!("{}{rest}", dir.display());
        }
        let (Some(host), Some((scheme, rest))) = (host(value), value.split_once("://")) else {
            return value.to_owned();
        };
        let authority = rest.split('/').next().unwrap();
        match host {
            "postgres" => {
                assert_eq!(scheme, "postgres", "{value}");
                self.database_url.clone()
            }
            "vault" => {
                let path = &rest[authority.len()..];
                format!("{scheme}://{}{path}", self.vault)
            }
            "seaweedfs" => self.s3_endpoint.clone(),
            _ => value.to_owned(),
        }
    }
}

/// The host of a URL-like value (`scheme://[user@]host[:port]/…`).
pub fn host(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit('@').next()?;
    host.split(':').next()
}

/// Copies each compose secret into the replica's volume directory at its target (`/data/…`),
/// 0600, as Compose mounts it.
pub fn install_secrets(service: &Service, files: &BTreeMap<String, PathBuf>, dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for (source, target) in &service.secrets {
        let relative = target
            .strip_prefix("/data/")
            .expect("secrets are mounted under /data");
        let path = dir.join(relative);
        std::fs::copy(&files[source], &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
