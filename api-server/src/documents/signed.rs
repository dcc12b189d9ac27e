//! Content signatures (DESIGN.md, "Signed responses"): the handle endpoint's whole downloads
//! carry `x-sealpost-signature` over the content's SHA-256. The vault holds no signing key, so
//! the API signs when it stores the content: the SHA-256 is taken as the bytes stream through
//! to the vault, signed with the instance key ([`crate::signer::Signer`]), and kept beside the
//! object (the row goes with it). The signature date is thus the time the content was stored.

use std::pin::pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use schema::ContentSignature;
use vault::cipher::OffThreadDigest;

use crate::content_store::StoredContent;
use crate::context::ApiContext;
use crate::error::ApiError;

/// Streams `body` into the vault (at most the instance's document limit) and records its
/// signature. Should the signature not be stored, the content is destroyed and the error
/// returned: no document is stored unsigned.
pub async fn store_content<S, E>(context: &ApiContext, body: S) -> Result<StoredContent, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    // SHA-256 on the blocking pool, beside the vault's SHA-1 and sealing (issue 20): on the
    // async worker it was 16 % of a 1 GiB upload's samples, all on the thread that parses.
    let digest = OffThreadDigest::spawn(shared::hex::Sha256::new());
    let hashed = body.then(|chunk| {
        let digest = &digest;
        async move {
            if let Ok(bytes) = &chunk {
                digest.feed(bytes).await;
            }
            chunk
        }
    });
    let object = context
        .vault
        .put(pin!(hashed), context.limits.max_document_bytes)
        .await?;
    let sha256 = match digest.finish().await {
        Ok(sha256) => sha256,
        Err(error) => {
            object.discard().await;
            return Err(error.into());
        }
    };
    let (signature, signature_date) = context.signer.sign_digest(&sha256);
    let signed = ContentSignature {
        sha256,
        signature,
        signature_date,
    };
    match context.repo.sign_object(object.key(), &signed).await {
        Ok(()) => Ok(object),
        Err(error) => {
            object.discard().await;
            Err(error.into())
        }
    }
}
