//! Files holding secrets: written atomically with mode 0600, refused when others can read them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    #[error(
        "{path} is readable or writable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Insecure { path: PathBuf, mode: u32 },
    #[error("cannot access {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PrivateFileError + '_ {
    move |source| PrivateFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads `path` after checking that only its owner can access it; `Ok(None)` when it is absent.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, PrivateFileError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io(path)(error)),
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PrivateFileError::Insecure {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read(path).map(Some).map_err(io(path))
}

/// Writes `contents` to `path` atomically (temporary file, fsync, rename, fsync of the
/// directory) with mode 0600 from the first byte, so a crash never leaves a half-written key
/// and no other user can ever open it.
pub fn write(path: &Path, contents: &[u8]) -> Result<(), PrivateFileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io(&temp))?;
    file.write_all(contents).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    fs::rename(&temp, path).map_err(io(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// Creates `path` with `contents` unless it exists already (then leaves it as it is), so
/// processes starting together agree on one file: the contents are written whole, 0600, under
/// a staging name of their own and hard-linked into place, which fails when another process
/// linked first. Callers read `path` back afterwards, whoever created it.
pub fn create_once(path: &Path, contents: &[u8]) -> Result<(), PrivateFileError> {
    let mut suffix = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
        .map_err(|_| io(path)(std::io::Error::other("no randomness for a staging name")))?;
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(".new-{}", crate::hex::hex(&suffix)));
    let staging = PathBuf::from(staging);
    write(&staging, contents)?;
    let linked = fs::hard_link(&staging, path);
    let removed = fs::remove_file(&staging);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io(dir))?;
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(io(path)(error)),
    }
    removed.map_err(io(&staging))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn written_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write(&path, b"secret").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read(&path).unwrap().unwrap(), b"secret");
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write(&path, b"secret").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read(&path),
            Err(PrivateFileError::Insecure { .. })
        ));
    }

    #[test]
    fn created_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        create_once(&path, b"first").unwrap();
        create_once(&path, b"second").unwrap();
        assert_eq!(read(&path).unwrap().unwrap(), b"first");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staging file left"
        );
    }

    #[test]
    fn absent_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("nope")).unwrap().is_none());
    }
}
