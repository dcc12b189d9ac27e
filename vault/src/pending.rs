//! [`PendingObject`]: stored content that no committed record refers to yet, whoever stores
//! it (the vault in this process, a remote vault, or the API's choice between the two).

use std::fmt;
use std::future::Future;

use schema::ObjectKey;

use crate::error::VaultError;

/// What can delete an object it stored: the owner a [`PendingObject`] falls back on.
pub trait ObjectOwner: Clone + Send + Sync + 'static {
    /// Deletes the object's row (its wrapped data key) and then its ciphertext.
    fn delete_object(&self, key: &ObjectKey)
    -> impl Future<Output = Result<(), VaultError>> + Send;
}

/// A stored object whose upload finished. Dropping it without [`keep`](Self::keep) deletes the
/// object (in a spawned task): the caller keeps it only once the record that refers to it is
/// committed, so a failure in between never leaves an unreferenced object.
pub struct PendingObject<O: ObjectOwner = crate::Vault> {
    owner: O,
    key: ObjectKey,
    size: u64,
    sha1_hex: String,
    kept: bool,
}

impl<O: ObjectOwner> PendingObject<O> {
    pub(crate) fn new(owner: O, key: ObjectKey, size: u64, sha1_hex: String) -> Self {
        Self {
            owner,
            key,
            size,
            sha1_hex,
            kept: false,
        }
    }

    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// Plaintext size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Lowercase hex SHA-1 of the plaintext.
    pub fn sha1_hex(&self) -> &str {
        &self.sha1_hex
    }

    /// The object is referenced now: keep it.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// Deletes the object now, for error paths that can wait for it, so the failed request's
    /// answer is sent only once nothing of its content remains.
    pub async fn discard(mut self) {
        self.kept = true;
        if let Err(error) = self.owner.delete_object(&self.key).await {
            tracing::warn!(object = %self.key, error = %error, "could not delete a discarded object; the sweep will");
        }
    }

    /// The same pending object, deleted through `owner` from now on (e.g. the API's store
    /// that wraps either kind of vault).
    pub fn with_owner<P: ObjectOwner>(mut self, owner: P) -> PendingObject<P> {
        self.kept = true; // disarms this one; the new one is armed
        PendingObject::new(
            owner,
            self.key.clone(),
            self.size,
            std::mem::take(&mut self.sha1_hex),
        )
    }
}

impl<O: ObjectOwner> fmt::Debug for PendingObject<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingObject")
            .field("key", &self.key)
            .field("size", &self.size)
            .field("sha1_hex", &self.sha1_hex)
            .finish_non_exhaustive()
    }
}

impl<O: ObjectOwner> Drop for PendingObject<O> {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        let (owner, key) = (self.owner.clone(), self.key.clone());
        crate::store::spawn_cleanup(&self.key, async move {
            if let Err(error) = owner.delete_object(&key).await {
                tracing::warn!(object = %key, error = %error, "could not delete an unkept object; the sweep will");
            }
        });
    }
}
