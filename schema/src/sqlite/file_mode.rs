//! The database file and its WAL and shared-memory files readable by their owner only (mode
//! 0600, like the key files): the data directory is 0700, but a database copied or moved out
//! of it keeps its own mode (issue 14, finding 9).

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Whether `database` (opened from `url`) is a file rather than an in-memory database.
pub(super) fn is_file(url: &str, database: &Path) -> bool {
    let name = database.to_string_lossy();
    !(name.is_empty()
        || name == ":memory:"
        || name.starts_with("file:")
        || url.contains("mode=memory"))
}

/// Creates `database` with mode 0600 when missing, before SQLite opens it (SQLite then creates
/// `-wal` and `-shm` with the database file's mode), and narrows an existing database and its
/// companions to 0600. In-memory databases (`sqlite::memory:`, named `file:…` by sqlx, or
/// `?mode=memory`) have no file.
pub(super) fn make_private(url: &str, database: &Path) -> io::Result<()> {
    if !is_file(url, database) {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(database)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = OsString::from(database.as_os_str());
        name.push(suffix);
        let path = Path::new(&name);
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_owner_only_and_narrows_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("a.db");
        make_private("sqlite:a.db", &database).unwrap();
        assert_eq!(mode(&database), 0o600);
        let wal = dir.path().join("a.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
        make_private("sqlite:a.db", &database).unwrap();
        assert_eq!(mode(&database), 0o600);
        assert_eq!(mode(&wal), 0o600);
    }
}
