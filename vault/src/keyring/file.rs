//! The key file: its JSON shape, reading it (refusing loose permissions), creating it and
//! replacing it atomically, and the identity stamp a live vault compares to notice a rotation.

use std::collections::BTreeMap;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::{FileStamp, Keyring, random_id};
use crate::cipher::KEY_LEN;
use crate::error::VaultError;

/// Key files are a few hundred bytes; refuse to read anything absurd.
const MAX_FILE_LEN: u64 = 1 << 20;

/// The file as read: key text lands in wiped memory (serde_json only copies it elsewhere when
/// it holds escapes, which base64 never does).
#[derive(serde::Deserialize)]
struct FileIn {
    current: String,
    keys: BTreeMap<String, SecretText>,
}

struct SecretText(Zeroizing<String>);

impl<'de> serde::Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self(Zeroizing::new(text)))
    }
}

#[derive(serde::Serialize)]
struct FileOut<'a> {
    current: &'a str,
    keys: BTreeMap<&'a str, &'a str>,
}

/// Key ids go into rows, logs and (behind a one-byte length) the wrap's associated data: short,
/// plain text only.
pub(super) fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Keyring {
    pub(super) fn try_load(path: &Path) -> Result<Option<Self>, VaultError> {
        let io_error = |source| VaultError::KeyFile {
            path: path.to_owned(),
            source,
        };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(error)),
        };
        // Check the mode (and take the stamp) of the file actually opened, not of whatever the
        // path names later: if a rotation replaces the file meanwhile, the stamp is the old
        // file's and the next check reloads.
        let metadata = file.metadata().map_err(io_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(VaultError::InsecureKeyFile {
                    path: path.to_owned(),
                    mode: mode & 0o7777,
                });
            }
        }
        let mut text = Zeroizing::new(Vec::with_capacity(4096));
        file.take(MAX_FILE_LEN)
            .read_to_end(&mut text)
            .map_err(io_error)?;
        let mut keyring = Self::parse(path, &text)?;
        keyring.stamp = Some(FileStamp::of(&metadata));
        Ok(Some(keyring))
    }

    fn parse(path: &Path, text: &[u8]) -> Result<Self, VaultError> {
        let malformed = |reason| VaultError::MalformedKeyFile {
            path: path.to_owned(),
            reason,
        };
        let file: FileIn = serde_json::from_slice(text)
            .map_err(|_| malformed("not a JSON object with `current` and `keys`"))?;
        let mut keys = BTreeMap::new();
        for (id, SecretText(encoded)) in file.keys {
            if !is_valid_id(&id) {
                return Err(malformed(
                    "a key id is not 1 to 64 characters of [A-Za-z0-9_-]",
                ));
            }
            let decoded = Zeroizing::new(
                STANDARD
                    .decode(encoded.as_bytes())
                    .map_err(|_| malformed("a key is not base64"))?,
            );
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            if decoded.len() != KEY_LEN {
                return Err(malformed("a key is not 32 bytes"));
            }
            key.copy_from_slice(&decoded);
            keys.insert(id, key);
        }
        if !keys.contains_key(&file.current) {
            return Err(malformed("`current` names no key in `keys`"));
        }
        Ok(Self {
            path: path.to_owned(),
            current: file.current,
            keys,
            stamp: None,
        })
    }

    pub(super) fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let encoded: Vec<(&str, Zeroizing<String>)> = self
            .keys
            .iter()
            .map(|(id, key)| (id.as_str(), Zeroizing::new(STANDARD.encode(&key[..]))))
            .collect();
        let file = FileOut {
            current: &self.current,
            keys: encoded
                .iter()
                .map(|(id, key)| (*id, key.as_str()))
                .collect(),
        };
        // Sized up front so the buffer holding key text is never reallocated (and left unwiped).
        let mut out = Zeroizing::new(Vec::with_capacity(256 + 128 * self.keys.len()));
        serde_json::to_writer_pretty(&mut *out, &file).map_err(|_| {
            VaultError::MalformedKeyFile {
                path: self.path.clone(),
                reason: "could not be serialized",
            }
        })?;
        out.push(b'\n');
        Ok(out)
    }
}

impl FileStamp {
    /// Device, inode, length and modification time. A rewrite always renames a new file into
    /// place, so the inode alone changes with every rotation; length and nanosecond mtime catch
    /// a hand edit in place.
    pub(super) fn of(metadata: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            Self {
                device: metadata.dev(),
                inode: metadata.ino(),
                len: metadata.len(),
                modified: metadata.modified().ok(),
            }
        }
        #[cfg(not(unix))]
        Self {
            device: 0,
            inode: 0,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }

    /// The stamp of whatever `path` names now: one `stat`, cheap enough before every upload.
    pub(super) fn of_path(path: &Path) -> io::Result<Self> {
        fs::metadata(path).map(|metadata| Self::of(&metadata))
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes `contents` to a fresh temporary file beside `path` (mode 0600 from the start, so key
/// text is never readable by others) and fsyncs it; returns its path.
fn write_temporary(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    let dir = parent_dir(path);
    fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = random_id().map_err(|_| io::Error::other("random number generator failed"))?;
    let temporary = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temporary),
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            Err(error)
        }
    }
}

/// Creates `path` with `contents`, atomically and without ever replacing an existing file: the
/// bytes go to a temporary file, which is then linked into place — a rename that fails with
/// `AlreadyExists` instead of clobbering a key file someone else just wrote.
pub(super) fn create_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = write_temporary(path, contents)?;
    let linked = fs::hard_link(&temporary, path);
    let _ = fs::remove_file(&temporary);
    linked?;
    // Make the new directory entry durable too.
    File::open(parent_dir(path))?.sync_all()
}

/// Replaces `path` with `contents` atomically: a reader (a live vault reloading) sees the old
/// file or the new one, never a mix, and a crash leaves one of the two whole. Only rotation
/// calls this, under [`UpdateLock`](super::UpdateLock).
pub(super) fn replace_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temporary = write_temporary(path, contents)?;
    if let Err(error) = fs::rename(&temporary, path) {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    File::open(parent_dir(path))?.sync_all()
}
