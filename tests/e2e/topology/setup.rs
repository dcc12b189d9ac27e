//! Setting the topology up as `docker compose up` would: the `.env`, the key files its header
//! has operators make, the bucket, and each replica started from its service's definition.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};

use super::compose::{self, Compose, Service};
use super::loopback::{Loopback, install_secrets};
use super::process::{ServiceProcess, free_addr};

/// What each replica listens on, picked before anything starts (the public URLs name them).
pub struct Addresses {
    pub api: SocketAddr,
    pub gateways: [SocketAddr; 2],
    pub vaults: [SocketAddr; 2],
}

pub fn random_b64(len: usize) -> String {
    let mut bytes = vec![0; len];
    SystemRandom::new().fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The key files the compose file's header has operators make (`gateway-key.pem`,
/// `seal-keys.json`, `record-keys.json`), in `dir`; returns the gateway key's public half.
pub fn make_key_files(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let key = shared::keys::SigningKey::load_or_create(&dir.join("gateway-key.pem")).unwrap();
    shared::sealed::SealKeys::load_or_create(&dir.join("seal-keys.json")).unwrap();
    shared::record_keys::load_or_create(&dir.join("record-keys.json")).unwrap();
    URL_SAFE_NO_PAD.encode(key.public_key())
}

/// The compose file's top-level secrets: name → the file made for it in `dir`.
pub fn secret_files(compose: &Compose, dir: &Path) -> BTreeMap<String, PathBuf> {
    compose
        .secret_files
        .iter()
        .map(|(name, file)| {
            let path = dir.join(file);
            assert!(path.exists(), "secret {name}: the test makes no {file}");
            (name.clone(), path)
        })
        .collect()
}

/// The test's `.env`: every variable the compose file's header asks for.
pub fn dotenv(addresses: &Addresses, bucket: &str, handle_key: &str) -> BTreeMap<String, String> {
    [
        ("POSTGRES_PASSWORD", random_b64(12)),
        ("S3_ACCESS_KEY_ID", "sealpost".to_owned()),
        ("S3_SECRET_ACCESS_KEY", random_b64(32)),
        ("SEALPOST_VAULT_SERVICE_TOKEN", random_b64(32)),
        ("SEALPOST_HANDLE_PUBLIC_KEY", handle_key.to_owned()),
        ("SEALPOST_S3_BUCKET", bucket.to_owned()),
        ("SEALPOST_API_URL", url(addresses.api)),
        ("SEALPOST_GATEWAY_URL", url(addresses.gateways[0])),
        ("SEALPOST_VAULT_URL", url(addresses.vaults[0])),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// The header's `.env` instructions match the file: every required variable is documented,
/// every documented one is used, and the test's `.env` sets nothing the file ignores.
pub fn check_dotenv_instructions(compose: &Compose, dotenv: &BTreeMap<String, String>) {
    let documented = compose::documented_dotenv();
    let undocumented: Vec<_> = compose.required.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "required, not in the header: {undocumented:?}"
    );
    let unused: Vec<_> = documented.difference(&compose.referenced).collect();
    assert!(unused.is_empty(), "in the header, never used: {unused:?}");
    for name in dotenv.keys() {
        assert!(
            compose.referenced.contains(name),
            "{name} is not in the file"
        );
    }
}

/// Each sealpost service gets exactly the image's `ENV` plus its own `environment`, and only
/// the vault holds the S3 credentials.
pub fn check_environments(compose: &Compose) {
    for (name, service) in &compose.services {
        for key in service.env.keys() {
            assert!(
                service.own_env.contains(key) || compose.image_env.contains_key(key),
                "{name}: {key} comes from neither the file nor the Dockerfile"
            );
        }
        let holds_s3 = service.env.contains_key("AWS_SECRET_ACCESS_KEY");
        assert_eq!(
            holds_s3,
            name == "vault",
            "{name}: only the vault holds S3 credentials"
        );
    }
    assert!(
        !compose
            .service("gateway")
            .env
            .contains_key("SEALPOST__VAULT__SERVICE_TOKEN"),
        "the gateway never holds the vault's service token"
    );
    assert!(
        compose.image_env.contains_key("SEALPOST__DATA_DIR"),
        "the Dockerfile sets the data directory the volumes are mounted at"
    );
}

/// Every image is pinned by version (`name:tag`, a tag with a digit, never `latest`), and
/// the S3 server's one-shot services make the bucket and the credentials the vault uses.
pub fn check_images_and_s3(compose: &Compose, bucket: &str) {
    for (name, image) in &compose.images {
        let (_, tag) = image
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{name}: {image}"));
        assert!(
            tag != "latest" && tag.contains(|c: char| c.is_ascii_digit()),
            "{name}: {image} is not pinned"
        );
    }
    let vault = &compose.service("vault").env;
    let made = |key: &str| {
        let values: Vec<&String> = compose
            .others
            .values()
            .filter_map(|env| env.get(key))
            .collect();
        assert_eq!(
            values.len(),
            1,
            "{key} is given to one S3 service: {values:?}"
        );
        values[0].clone()
    };
    assert_eq!(
        made("BUCKET"),
        bucket,
        "the bucket the vault uses is the one made"
    );
    assert_eq!(made("S3_ACCESS_KEY_ID"), vault["AWS_ACCESS_KEY_ID"]);
    assert_eq!(made("S3_SECRET_ACCESS_KEY"), vault["AWS_SECRET_ACCESS_KEY"]);
}

/// Starts one replica of `service`, named `name`, listening on `listen`.
pub fn start(
    loopback: &Loopback,
    service: &Service,
    secrets: &BTreeMap<String, PathBuf>,
    (name, banner): (&str, &str),
    listen: SocketAddr,
) -> ServiceProcess {
    let start = loopback.localize(service, listen);
    assert_eq!(
        start.env.keys().collect::<Vec<_>>(),
        service.env.keys().collect::<Vec<_>>(),
        "{name}: the variables the compose file gives, no more"
    );
    install_secrets(service, secrets, &start.dir);
    let process = ServiceProcess::start(name, &start.command, &start.env, &start.dir, banner);
    assert_eq!(process.base_url, url(listen), "{name}");
    process
}

/// `sealpost ARGS` run as `docker compose run --rm SERVICE sealpost ARGS` would: with the
/// service's environment and volume. Returns stdout.
pub fn run_sealpost(loopback: &Loopback, service: &Service, args: &[&str]) -> String {
    let start = loopback.localize(service, free_addr());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sealpost"))
        .args(args)
        .env_clear()
        .envs(&start.env)
        .current_dir(&start.dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sealpost {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// An empty bucket of the test's own on the S3 server, and the server's endpoint.
pub async fn make_bucket() -> (String, String) {
    (
        crate::s3::endpoint(),
        crate::s3::new_bucket("topology").await,
    )
}
