//! Where document content lives, as the API sees it: the vault in this process, or a vault
//! running as its own process reached through its internal object API. Both have the same
//! semantics (streamed `put` returning an object to keep or discard, streamed `read`, `delete`,
//! `delete_blob`), so handlers never know which wiring they run in.
//!
//! An enum rather than a trait object: two known cases, and `put` is generic over a body that
//! is not `Send` (actix-multipart's fields), which a `dyn` method could not take.

use bytes::Bytes;
use futures_util::Stream;
use schema::ObjectKey;
use vault::internal::RemoteVault;
use vault::{ObjectOwner, ObjectReader, PendingObject, Vault, VaultError};

#[derive(Clone, Debug)]
pub enum ContentStore {
    /// `sealpost up`: the vault shares this process.
    InProcess(Vault),
    /// `vault.internal_url` is set: the vault is its own process.
    Remote(RemoteVault),
}

impl From<Vault> for ContentStore {
    fn from(vault: Vault) -> Self {
        Self::InProcess(vault)
    }
}

impl From<RemoteVault> for ContentStore {
    fn from(vault: RemoteVault) -> Self {
        Self::Remote(vault)
    }
}

impl ContentStore {
    /// Streams `body` in, encrypted, refusing more than `max_size` bytes. On any failure
    /// nothing of it remains once this returns.
    pub async fn put<S, E>(&self, body: S, max_size: u64) -> Result<StoredContent, VaultError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        Ok(match self {
            Self::InProcess(vault) => vault.put(body, max_size).await?.with_owner(self.clone()),
            Self::Remote(vault) => vault.put(body, max_size).await?.with_owner(self.clone()),
        })
    }

    /// The whole plaintext, streamed and verified.
    pub async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, VaultError> {
        match self {
            Self::InProcess(vault) => vault.read(key).await,
            Self::Remote(vault) => vault.read(key).await,
        }
    }

    /// Deletes the object's wrapped data key, then its ciphertext.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), VaultError> {
        match self {
            Self::InProcess(vault) => vault.delete(key).await,
            Self::Remote(vault) => vault.delete(key).await,
        }
    }

    /// Deletes only the ciphertext (the row went with the document's record).
    pub async fn delete_blob(&self, key: &ObjectKey) -> Result<(), VaultError> {
        match self {
            Self::InProcess(vault) => vault.delete_blob(key).await,
            Self::Remote(vault) => vault.delete_blob(key).await,
        }
    }
}

impl ObjectOwner for ContentStore {
    async fn delete_object(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.delete(key).await
    }
}

/// Stored content not yet referenced by a committed record: [`keep`](PendingObject::keep) it
/// after the commit; dropping it unkept deletes it, [`discard`](PendingObject::discard)
/// deletes it and waits.
pub type StoredContent = PendingObject<ContentStore>;
