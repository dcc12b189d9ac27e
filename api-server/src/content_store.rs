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
use vault::internal::{RemoteObject, RemoteVault};
use vault::{ObjectReader, PendingObject, Vault, VaultError};

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
            Self::InProcess(vault) => StoredContent::InProcess(vault.put(body, max_size).await?),
            Self::Remote(vault) => StoredContent::Remote(vault.put(body, max_size).await?),
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

/// Stored content not yet referenced by a committed record: [`keep`](Self::keep) it after the
/// commit; dropping it unkept deletes it, [`discard`](Self::discard) deletes it and waits.
#[derive(Debug)]
pub enum StoredContent {
    InProcess(PendingObject),
    Remote(RemoteObject),
}

impl StoredContent {
    pub fn key(&self) -> &ObjectKey {
        match self {
            Self::InProcess(object) => object.key(),
            Self::Remote(object) => object.key(),
        }
    }

    /// Plaintext size in bytes.
    pub fn size(&self) -> u64 {
        match self {
            Self::InProcess(object) => object.size(),
            Self::Remote(object) => object.size(),
        }
    }

    /// Lowercase hex SHA-1 of the plaintext.
    pub fn sha1_hex(&self) -> &str {
        match self {
            Self::InProcess(object) => object.sha1_hex(),
            Self::Remote(object) => object.sha1_hex(),
        }
    }

    pub fn keep(self) {
        match self {
            Self::InProcess(object) => object.keep(),
            Self::Remote(object) => object.keep(),
        }
    }

    pub async fn discard(self) {
        match self {
            Self::InProcess(object) => object.discard().await,
            Self::Remote(object) => object.discard().await,
        }
    }
}
