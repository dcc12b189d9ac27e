//! `sealpost receipt verify FILE --key URL-or-FILE`: checks a receipt saved from
//! `GET /documents/{docId}/views/{n}/receipt` against the instance's public keys (a URL, as
//! `logs verify` takes it, or a saved copy of `GET /.well-known/sealpost-keys`), offline when
//! the keys are a file. The signed bytes are described in [`shared::receipt`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// `sealpost receipt …`.
#[derive(Debug, clap::Subcommand)]
pub enum ReceiptCommand {
    /// Check a receipt from GET /documents/{docId}/views/{n}/receipt: its Ed25519 signature by
    /// the instance key over the receipt's canonical JSON. Prints what it attests and exits 0
    /// only when the signature holds.
    Verify {
        /// The receipt (JSON).
        file: PathBuf,
        /// The instance's public keys: its API URL (or the URL of its
        /// /.well-known/sealpost-keys), or a file holding that JSON.
        #[arg(long)]
        key: String,
    },
}

impl ReceiptCommand {
    pub async fn run(&self) -> anyhow::Result<()> {
        match self {
            ReceiptCommand::Verify { file, key } => {
                let summary = verify(file, key).await?;
                println!("{summary}");
                Ok(())
            }
        }
    }
}

/// Checks the receipt at `file` against the keys at `key`; a one-line summary when it holds.
pub async fn verify(file: &Path, key: &str) -> anyhow::Result<String> {
    let keys = crate::logs::load_keys(key).await?;
    let text = tokio::fs::read(file)
        .await
        .with_context(|| format!("reading {}", file.display()))?;
    let receipt: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    shared::receipt::verify(&receipt, &keys)
        .with_context(|| format!("{} does not verify", file.display()))?;
    Ok(summary(&receipt))
}

fn summary(receipt: &serde_json::Value) -> String {
    let text = |pointer: &str| {
        receipt
            .pointer(pointer)
            .map_or_else(|| "-".to_owned(), |value| value.to_string())
    };
    format!(
        "receipt OK: document {} record {} downloaded {} ({} bytes sent), signed by key {}",
        text("/document/id"),
        text("/record/index"),
        text("/downloaded"),
        text("/bytesSent"),
        text("/signature/keyId"),
    )
}
