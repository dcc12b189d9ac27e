//! Clean-up of what crashes and abandoned uploads leave behind. Run at start-up (and possibly
//! periodically): after a `kill -9` mid-upload the next start removes the pending row, any blob
//! and the local store's half-written staging file.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt as _;
use object_store::ObjectStore as _;
use object_store::path::Path as Location;
use schema::ObjectKey;

use super::{OBJECTS, Vault};
use crate::error::VaultError;

/// What a sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Object rows no document refers to (pending or unkept), with their blobs.
    pub orphan_objects: u64,
    /// Blobs no row names (their row is gone, so they could not be decrypted anyway).
    pub unknown_blobs: u64,
    /// The local store's multipart staging files (`<key>#<n>`) of uploads that died.
    pub staging_files: u64,
}

impl Vault {
    /// Deletes orphan objects created more than `grace` ago (on S3 their pending multipart
    /// upload aborted by its recorded id first, then row, then blob), blobs that no row names,
    /// and stale staging files of a local store.
    ///
    /// `grace` must exceed the longest upload plus the time a caller takes to commit the record
    /// that refers to a new object, or live uploads would be swept; at the start-up of the only
    /// instance, nothing is live. Blobs without a row need no grace: an upload writes its row
    /// before its first byte and a deletion removes the row before the blob, so such a blob is
    /// always garbage.
    pub async fn sweep(&self, grace: Duration) -> Result<SweepReport, VaultError> {
        let mut report = SweepReport::default();
        let now = chrono::Utc::now();
        let cutoff = chrono::TimeDelta::from_std(grace)
            .ok()
            .and_then(|grace| now.checked_sub_signed(grace))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        for key in self.inner.repo.orphan_objects(cutoff).await? {
            self.discard(&key).await?;
            report.orphan_objects += 1;
        }

        let mut unknown = Vec::new();
        let mut listing = self.inner.store.list(Some(&Location::from(OBJECTS)));
        while let Some(meta) = listing.try_next().await? {
            match key_of(&meta.location) {
                Some(key) => {
                    if !self.inner.repo.object_exists(&key).await? {
                        unknown.push(key);
                    }
                }
                None => tracing::warn!(location = %meta.location, "not a vault object; left alone"),
            }
        }
        for key in unknown {
            self.delete_blob(&key).await?;
            report.unknown_blobs += 1;
        }

        if let Some(root) = &self.inner.local_root {
            let dir = root.join(OBJECTS);
            let cutoff = SystemTime::now()
                .checked_sub(grace)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let walked = tokio::task::spawn_blocking(move || remove_staging_files(&dir, cutoff))
                .await
                .map_err(|error| VaultError::Io {
                    path: root.clone(),
                    source: io::Error::other(error),
                })?;
            report.staging_files =
                walked.map_err(|(path, source)| VaultError::Io { path, source })?;
        }
        if report != SweepReport::default() {
            tracing::info!(
                orphan_objects = report.orphan_objects,
                unknown_blobs = report.unknown_blobs,
                staging_files = report.staging_files,
                "vault sweep removed leftovers"
            );
        }
        Ok(report)
    }
}

/// The key of a location written by [`Vault::location`]; `None` for anything else.
fn key_of(location: &Location) -> Option<ObjectKey> {
    let key = ObjectKey::parse(location.filename()?).ok()?;
    (Vault::location(&key) == *location).then_some(key)
}

/// Whether `name` is a staging file of `object_store`'s local multipart upload: `<dest>#<n>`.
fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(dest, n)| {
        !dest.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Removes staging files under `dir` last modified before `cutoff`; returns how many. A staging
/// file being written is touched by every part, so only dead uploads are that old.
fn remove_staging_files(dir: &Path, cutoff: SystemTime) -> Result<u64, (PathBuf, io::Error)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err((dir.to_owned(), error)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|error| (dir.to_owned(), error))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|error| (path.clone(), error))?;
        if file_type.is_dir() {
            removed += remove_staging_files(&path, cutoff)?;
        } else if file_type.is_file() && entry.file_name().to_str().is_some_and(is_staging_name) {
            let modified = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .map_err(|error| (path.clone(), error))?;
            if modified < cutoff {
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    // Its upload just finished or aborted.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err((path, error)),
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_staging_names_and_object_locations() {
        assert!(is_staging_name("AAAAAAAAAAAAAAAAAAAAAA#1"));
        assert!(is_staging_name("x#12"));
        for name in ["AAAAAAAAAAAAAAAAAAAAAA", "#1", "a#", "a#1b", "a#-1"] {
            assert!(!is_staging_name(name), "{name}");
        }
        let key = ObjectKey::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            Vault::location(&key).as_ref(),
            "objects/AA/AAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(key_of(&Vault::location(&key)), Some(key.clone()));
        assert_eq!(key_of(&Location::from(key.as_str())), None);
        assert_eq!(key_of(&Location::from(format!("objects/zz/{key}"))), None);
        assert_eq!(key_of(&Location::from("objects/ab/readme.txt")), None);
    }
}
