//! The command-line contract (DESIGN.md). Names and flags here are relied on by scripts
//! outside this repository: change them only by adding.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shared::config::Settings;

use crate::instance::Instance;

/// Sealpost: a secure document vault and gateway.
///
/// Producers upload documents through a REST API (the API server) and say who may see them;
/// viewers open links in a browser (the gateway) and download the decrypted document from the
/// vault. Everything is stored encrypted under one data directory.
///
/// Start here: `sealpost up`, then `sealpost upload FILE --key sealpost-data/producer-default.pem`
/// (README.md, "Quick start"; docs/api-walkthrough.md does the same with curl).
#[derive(Debug, Parser)]
#[command(name = "sealpost", version, about, long_about)]
pub struct Cli {
    /// Configuration file (default: ./sealpost.toml when present). Environment variables
    /// SEALPOST__SECTION__KEY (e.g. SEALPOST__API__TOKEN_TTL_SECS) override it; flags override both.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server, the gateway and the vault in this process (embedded SQLite and a
    /// local object store under the data directory). On first run, creates producer `default`
    /// and writes its key to DIR/producer-default.pem. Stops cleanly on Ctrl-C or SIGTERM.
    Up {
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Producer API address [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        api_addr: Option<SocketAddr>,
        /// Viewer gateway address [default: 127.0.0.1:8081]
        #[arg(long, value_name = "ADDR")]
        gateway_addr: Option<SocketAddr>,
        /// Vault (document download) address [default: 127.0.0.1:8082]
        #[arg(long, value_name = "ADDR")]
        vault_addr: Option<SocketAddr>,
        /// Where GET /metrics is served, for all three (never a public port)
        /// [default: 127.0.0.1:9464]
        #[arg(long, value_name = "ADDR")]
        admin_addr: Option<SocketAddr>,
        /// Serve HTTPS on all three with this certificate chain (PEM; re-read on SIGHUP)
        /// [default: tls.cert_file]
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM) [default: tls.key_file]
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Manage producers (the tenants who upload documents).
    Producer {
        #[command(subcommand)]
        command: ProducerCommand,
    },
    /// Administer the vault's keys.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
    },
    /// Administer the record keys (viewer data and secrets sealed in the database).
    Records {
        #[command(subcommand)]
        command: RecordsCommand,
    },
    /// Check audit-log exports.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Check signed view receipts (GET /documents/{docId}/views/N/receipt).
    Receipt {
        #[command(subcommand)]
        command: crate::receipt::ReceiptCommand,
    },
    /// Administer the instance's own keys.
    Instance {
        #[command(subcommand)]
        command: InstanceCommand,
    },
    /// Upload a document to a remote instance (POST /documents): the file streamed, the form
    /// parts from the flags; prints the record JSON. See `sealpost upload --help`.
    Upload(crate::client::args::Upload),
    /// Print a document's sealed links, one a line (or CSV with the audience's fields).
    Links(crate::client::args::Links),
    /// Start a delivery of a document's links through its fulfillment (POST …/deliver).
    Deliver(crate::client::args::Deliver),
    /// Download a document from the vault by its handle URL (decrypting a top-secret one).
    Get(crate::client::args::Get),
    /// Probe a service: GET the URL (e.g. http://127.0.0.1:8080/readyz) and exit 0 only on a
    /// 2xx answer within 5 seconds. For container health checks (the image has no curl).
    Healthcheck {
        /// The URL to GET
        #[arg(value_name = "URL")]
        url: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Replace the instance's signing key (DIR/instance-key.pem: signed responses, content
    /// signatures, log exports, login tokens) with a new one. The old key moves to
    /// DIR/instance-key.previous.pem with every earlier one and stays published at
    /// GET /.well-known/sealpost-keys, so what it signed keeps verifying; it never signs again.
    /// Running services use the new key after a restart; login tokens issued before it must
    /// be renewed. Prints the new and the previous key ids.
    RotateSigningKey {
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Check a zip downloaded from GET /logs, offline: the signature over manifest.json, each
    /// file's SHA-256 and record count, and every line's hash chain. Prints a summary and exits
    /// 0 when all holds; otherwise names the first bad record (e.g. "gateway.log line 17:
    /// altered", "removed before line 17", "inserted at line 17") and exits non-zero.
    Verify {
        /// The zip, as downloaded
        #[arg(value_name = "FILE.zip")]
        file: PathBuf,
        /// The instance's public keys: the URL of GET /.well-known/sealpost-keys (or of the API
        /// server's root), or a saved copy of that JSON
        #[arg(long, value_name = "URL-or-FILE")]
        key: String,
    },
    /// Download the audit logs (GET /logs) from a remote instance into FILE.zip, kept only
    /// once it verified as `logs verify` checks it (otherwise deleted, exit 1).
    Get(crate::client::args::LogsGet),
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Rewrap every data key under a new key-encryption key, then retire the old one (its
    /// material leaves DIR/vault-keyring.json). Content is never rewritten. Works with `up`
    /// stopped or running; run it again after a crash and it finishes the job. Prints one
    /// summary line; exits non-zero unless only the new key is left.
    RotateKey {
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Seconds to wait for uploads in flight in a running `up` before the last pass
        #[arg(long, value_name = "SECS", default_value_t = 2)]
        grace_secs: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Add a new record key to DIR/record-keys.json, make it current, and reseal every
    /// document's audience, challenge, fulfillment and metadata under it (older keys stay in
    /// the file, so what a running service sealed with them still opens). Works with `up`
    /// stopped or running: a running service picks the new key up from the file when it first
    /// meets a value sealed with it, and seals with it from then on; the next start reseals
    /// anything left. Prints one summary line.
    RotateKey {
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProducerCommand {
    /// Create a producer and print its private key (PEM) on stdout: the only copy, keep it safe.
    /// Works whether or not `sealpost up` is running.
    Add {
        /// Producer name: letters, digits, '-', '_', '.'
        name: String,
        /// Contact email of the producer
        #[arg(long)]
        email: String,
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Manage a producer's keys (it may hold several; any of them logs in). Works whether or
    /// not `sealpost up` is running.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a new key for the producer and print its private key (PKCS#8 PEM) on stdout:
    /// the only copy, keep it safe. Only the public key is stored; the key id goes to stderr.
    Add {
        /// Producer name
        name: String,
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List the producer's keys, oldest first: key id, creation time, public key (base64).
    List {
        /// Producer name
        name: String,
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Remove one of the producer's keys: it stops logging in and the tokens it issued stop
    /// working at once. The last key cannot be removed (exits non-zero).
    Remove {
        /// Producer name
        name: String,
        /// The key's id (from `list`)
        key_id: String,
        /// Data directory [default: ./sealpost-data]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn path_override(key: &'static str, value: Option<&PathBuf>) -> Option<(&'static str, String)> {
    value.map(|v| (key, v.display().to_string()))
}

fn addr_override(key: &'static str, value: Option<&SocketAddr>) -> Option<(&'static str, String)> {
    value.map(|v| (key, v.to_string()))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_deref();
    match &cli.command {
        Command::Up {
            data_dir,
            api_addr,
            gateway_addr,
            vault_addr,
            admin_addr,
            tls_cert,
            tls_key,
        } => {
            let overrides: Vec<_> = [
                path_override("data_dir", data_dir.as_ref()),
                addr_override("api.addr", api_addr.as_ref()),
                addr_override("gateway.addr", gateway_addr.as_ref()),
                addr_override("vault.addr", vault_addr.as_ref()),
                addr_override("admin.addr", admin_addr.as_ref()),
                path_override("tls.cert_file", tls_cert.as_ref()),
                path_override("tls.key_file", tls_key.as_ref()),
            ]
            .into_iter()
            .flatten()
            .collect();
            up(Settings::load(config, &overrides)?).await
        }
        Command::Producer {
            command:
                ProducerCommand::Add {
                    name,
                    email,
                    data_dir,
                },
        } => add_producer(&settings_in(config, data_dir.as_ref())?, name, email).await,
        Command::Producer {
            command: ProducerCommand::Key { command },
        } => producer_key(config, command).await,
        Command::Vault {
            command:
                VaultCommand::RotateKey {
                    data_dir,
                    grace_secs,
                },
        } => rotate_vault_key(&settings_in(config, data_dir.as_ref())?, *grace_secs).await,
        Command::Records {
            command: RecordsCommand::RotateKey { data_dir },
        } => rotate_record_key(&settings_in(config, data_dir.as_ref())?).await,
        Command::Instance {
            command: InstanceCommand::RotateSigningKey { data_dir },
        } => rotate_signing_key(&settings_in(config, data_dir.as_ref())?),
        Command::Logs {
            command: LogsCommand::Verify { file, key },
        } => {
            let report = crate::logs::verify(file, key).await?;
            print!("{report}");
            Ok(())
        }
        Command::Logs {
            command: LogsCommand::Get(args),
        } => crate::client::logs_get::run(args).await,
        Command::Receipt { command } => command.run().await,
        Command::Upload(args) => crate::client::upload::run(args).await,
        Command::Links(args) => crate::client::links::run(args).await,
        Command::Deliver(args) => crate::client::deliver::run(args).await,
        Command::Get(args) => crate::client::get::run(args).await,
        Command::Healthcheck { url } => healthcheck(url).await,
    }
}

impl Cli {
    /// Whether the command asked for `--json` output (its failures are JSON too).
    pub fn json_output(&self) -> bool {
        match &self.command {
            Command::Upload(args) => args.remote.json,
            Command::Links(args) => args.remote.json,
            Command::Deliver(args) => args.remote.json,
            Command::Get(args) => args.json,
            Command::Logs {
                command: LogsCommand::Get(args),
            } => args.remote.json,
            _ => false,
        }
    }
}

/// `sealpost healthcheck URL`: `Ok` on a 2xx answer, else an error naming the status.
async fn healthcheck(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let status = client.get(url).send().await?.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

/// The settings of a command whose only override is `--data-dir`.
fn settings_in(config: Option<&Path>, data_dir: Option<&PathBuf>) -> anyhow::Result<Settings> {
    let overrides: Vec<_> = path_override("data_dir", data_dir).into_iter().collect();
    Ok(Settings::load(config, &overrides)?)
}

/// `sealpost up`: every service in this process, until a signal stops them.
async fn up(settings: Settings) -> anyhow::Result<()> {
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    let instance = Instance::start(&settings).await?;
    if let Some(path) = &instance.default_key_path {
        println!(
            "Created producer \"default\"; its key is in {} (mode 0600).",
            path.display()
        );
    }
    let url = |addr| shared::tls::base_url(&settings.tls, addr);
    println!("API server: {}", url(instance.api_addr));
    println!("Gateway:    {}", url(instance.gateway_addr));
    println!("Vault:      {}", url(instance.vault_addr));
    if let Some(admin) = instance.admin_addr {
        println!("Metrics:    http://{admin}/metrics");
    }
    instance.run_until_signal().await
}

/// `sealpost producer add`: registers a producer and prints its private key (PEM).
async fn add_producer(settings: &Settings, name: &str, email: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let repo = schema::connect(&settings.database_url())
        .await
        .context("opening the database")?;
    let pem = crate::producers::add(repo.as_ref(), name, Some(email)).await?;
    print!("{}", pem.as_str());
    Ok(())
}

/// `sealpost producer key add|list|remove`, on the data directory's database.
async fn producer_key(config: Option<&Path>, command: &KeyCommand) -> anyhow::Result<()> {
    let (KeyCommand::Add { data_dir, .. }
    | KeyCommand::List { data_dir, .. }
    | KeyCommand::Remove { data_dir, .. }) = command;
    let settings = settings_in(config, data_dir.as_ref())?;
    let repo = schema::connect(&settings.database_url())
        .await
        .context("opening the database")?;
    let repo = repo.as_ref();
    match command {
        KeyCommand::Add { name, .. } => {
            let key = crate::producers::add_key(repo, name).await?;
            eprintln!("Added key {} to producer {name:?}.", key.key_id);
            print!("{}", key.pem.as_str());
        }
        KeyCommand::List { name, .. } => {
            for key in crate::producers::list_keys(repo, name).await? {
                let created = key
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                println!("{}  {created}  {}", key.id, key.public_key_base64());
            }
        }
        KeyCommand::Remove { name, key_id, .. } => {
            let revoked = crate::producers::remove_key(repo, name, key_id).await?;
            println!(
                "Removed key {key_id} of producer {name:?} (login sessions revoked with it: {revoked})."
            );
        }
    }
    Ok(())
}

/// `sealpost vault rotate-key`: a new key-encryption key, every object rewrapped under it.
async fn rotate_vault_key(settings: &Settings, grace_secs: u64) -> anyhow::Result<()> {
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    let report = crate::rotation::run(
        &settings.data_dir,
        &settings.database_url(),
        Duration::from_secs(grace_secs),
    )
    .await?;
    println!("{report}");
    anyhow::ensure!(
        report.is_complete(),
        "rotation incomplete: run it again (rows listed as kept were written during \
         this run; rows that could not be rewrapped are logged above)"
    );
    Ok(())
}

/// `sealpost records rotate-key`: a new record key, every sealed value resealed under it.
async fn rotate_record_key(settings: &Settings) -> anyhow::Result<()> {
    shared::telemetry::init(&settings.telemetry.format, &settings.telemetry.filter);
    let (key_id, resealed) = crate::rotation::rotate_record_key(settings).await?;
    println!("record key {key_id} is current; {resealed} values resealed under it");
    Ok(())
}

/// `sealpost instance rotate-signing-key`: a new instance key; the old one stays published.
fn rotate_signing_key(settings: &Settings) -> anyhow::Result<()> {
    let rotation = api_server::signing_keys::rotate(&settings.data_dir).with_context(|| {
        format!(
            "rotating the instance key in {} (is it a Sealpost data directory?)",
            settings.data_dir.display()
        )
    })?;
    println!(
        "signing key {} is current; {} retired (published with {} earlier keys); restart the \
         services to sign with it",
        rotation.new_key_id,
        rotation.previous_key_id,
        rotation.retired - 1
    );
    Ok(())
}
