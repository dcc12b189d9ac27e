//! Prints a vault handle URL for a document, signed with the instance's gateway key, as the
//! gateway would mint it after a viewer passed its checks. For benchmarks and manual checks
//! only (whoever can read the data directory holds that key anyway):
//!
//!     cargo run --release --example mint_handle -- DATA_DIR VAULT_URL DOC_ID [TTL_SECS]

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;
use shared::handle::{HandleClaims, HandleSigner, Nonce, ViewerRef};
use shared::keys::SigningKey;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data_dir, vault_url, doc_id, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: mint_handle DATA_DIR VAULT_URL DOC_ID [TTL_SECS]");
    };
    let ttl: i64 = rest.first().map_or(Ok(3600), |t| t.parse())?;
    let data_dir = PathBuf::from(data_dir);
    let repo = schema::connect(&format!(
        "sqlite:{}",
        data_dir.join(sealpost::instance::DATABASE_FILE).display()
    ))
    .await?;
    let id = schema::DocumentId::parse(doc_id).context("document id")?;
    let document = repo
        .document_by_id(&id)
        .await?
        .context("no such document")?;
    let key = SigningKey::load_or_create(&data_dir.join(sealpost::instance::GATEWAY_KEY_FILE))?;
    let handle = HandleSigner::new(key).sign(&HandleClaims {
        object: document.object_key,
        document: document.id,
        access_version: document.access_version.cast_unsigned(),
        viewer: ViewerRef::default(),
        expires_at: Utc::now() + chrono::Duration::seconds(ttl),
        nonce: Nonce::random(),
    });
    println!("{}/h/{handle}", vault_url.trim_end_matches('/'));
    Ok(())
}
