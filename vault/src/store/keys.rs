//! Data keys and the key-encryption keys that wrap them, while a rotation may be running.
//!
//! A running vault holds a snapshot of the keyring ([`LiveKeyring`](crate::keyring::LiveKeyring))
//! that `sealpost vault rotate-key` can make stale at any moment, in two ways:
//! - a **new current key** appears: rows rewrapped under it carry an id the snapshot does not
//!   know, and new uploads must be wrapped under it;
//! - an **old key is retired**: its material leaves the file once no row references it.
//!
//! Reads handle both with one retry ([`Vault::row_and_data_key`]). Writes close the race with
//! retirement in [`Vault::keep_under_current_key`]; `crate::rotate` explains why that is
//! enough.

use schema::{ObjectKey, ObjectRecord};

use super::Vault;
use crate::cipher::KEY_LEN;
use crate::error::VaultError;
use crate::keyring::{Keyring, SecretKey};

impl Vault {
    /// A finished object's row and its unwrapped data key ([`VaultError::NotFound`] while it is
    /// absent or still uploading, checked before any unwrapping).
    ///
    /// An unknown KEK id means a rotation ran since the ring was loaded: either the row is under
    /// a new key (reload the file), or the row was read just before a rotation rewrapped it and
    /// retired its old key (read the row again). One retry with a fresh ring and a fresh row
    /// covers both. `loaded` is the row when the caller read it already (with its document,
    /// in one query); it is read here otherwise.
    pub(super) async fn row_and_data_key(
        &self,
        key: &ObjectKey,
        loaded: Option<ObjectRecord>,
    ) -> Result<(ObjectRecord, SecretKey), VaultError> {
        let row = match loaded {
            Some(row) if row.key == *key => finished(Some(row))?,
            _ => self.finished_row(key).await?,
        };
        match unwrap_row(&self.inner.keyring.get(), &row) {
            Err(VaultError::UnknownKek { .. }) => {}
            result => return result.map(|data_key| (row, data_key)),
        }
        let ring = self.inner.keyring.fresh()?;
        let row = self.finished_row(key).await?;
        unwrap_row(&ring, &row).map(|data_key| (row, data_key))
    }

    async fn finished_row(&self, key: &ObjectKey) -> Result<ObjectRecord, VaultError> {
        finished(self.inner.repo.object(key).await?)
    }

    /// Wraps a new object's data key under the key that is current in the file now (one `stat`
    /// to notice a rotation).
    pub(super) fn wrap_new(
        &self,
        data_key: &[u8; KEY_LEN],
        key: &ObjectKey,
    ) -> Result<(String, Vec<u8>), VaultError> {
        self.inner.keyring.fresh()?.wrap(data_key, key)
    }

    /// Called right after a new object's row is committed, while the plaintext data key is
    /// still at hand: if the key file now names another current key than the one the row was
    /// wrapped under (a rotation started between [`wrap_new`](Self::wrap_new) and the insert),
    /// rewraps the row under the current key. It needs only the data key, not the old KEK, so
    /// it works even if that KEK was retired meanwhile. The update is a compare-and-swap on the
    /// old id: if the rotation rewrapped the row first, that is just as good.
    pub(super) async fn keep_under_current_key(
        &self,
        key: &ObjectKey,
        wrapped_under: &str,
        data_key: &[u8; KEY_LEN],
    ) -> Result<(), VaultError> {
        let ring = self.inner.keyring.fresh()?;
        if ring.current_id() == wrapped_under {
            return Ok(());
        }
        let (current, wrapped) = ring.wrap(data_key, key)?;
        let swapped = self
            .inner
            .repo
            .rewrap_object(key, wrapped_under, &current, &wrapped)
            .await?;
        tracing::debug!(object = %key, from = wrapped_under, to = %current, swapped, "new object moved to the current key-encryption key");
        Ok(())
    }
}

/// The row when it is there and finished (not still uploading).
fn finished(row: Option<ObjectRecord>) -> Result<ObjectRecord, VaultError> {
    match row {
        Some(row) if row.size.is_some() && row.sha1.is_some() => Ok(row),
        _ => Err(VaultError::NotFound),
    }
}

fn unwrap_row(ring: &Keyring, row: &ObjectRecord) -> Result<SecretKey, VaultError> {
    ring.unwrap(&row.kek_id, &row.wrapped_dek, &row.key)
}
