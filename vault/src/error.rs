//! The vault's error type.

use std::path::PathBuf;

use crate::cipher::CipherError;

/// Everything the vault can fail with. Messages never contain key material or plaintext; the
/// underlying cause is chained through `source()` for the one place that logs it.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No finished object under this key (absent, still uploading, or deleted).
    #[error("no such object")]
    NotFound,
    /// The stored object is not what was written: a segment failed authentication, the header is
    /// wrong, or its length disagrees with the recorded size. No byte of it is handed out.
    #[error("the stored object failed its integrity check")]
    Integrity(#[source] CipherError),
    /// The upload body exceeded the caller's limit (plaintext bytes).
    #[error("the upload exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A requested plaintext range lies outside the object.
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange { size: u64 },
    /// The upload body stream failed (e.g. the client went away).
    #[error("reading the upload body failed")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("object store error")]
    Store(#[from] object_store::Error),
    #[error("repository error")]
    Repo(#[from] schema::RepoError),
    /// A vault setting is out of range (e.g. the segment size), or encryption itself failed.
    #[error("encryption error")]
    Crypto(#[source] CipherError),
    /// The key file may be read by someone else: refuse it rather than trust keys that leaked.
    #[error("key file {} is accessible by group or others (mode {mode:o}); run chmod 600 on it", path.display())]
    InsecureKeyFile { path: PathBuf, mode: u32 },
    #[error("key file {} could not be read or written", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The key file is not in the expected shape. The JSON parser's message is not chained: it
    /// can quote the offending value, which may be key material.
    #[error("key file {} is malformed: {reason}", path.display())]
    MalformedKeyFile { path: PathBuf, reason: &'static str },
    #[error("no key-encryption key {kek_id:?} in the keyring")]
    UnknownKek { kek_id: String },
    /// The wrapped data key did not authenticate: wrong keyring, or a row that was tampered with
    /// or copied to another object.
    #[error("the wrapped data key did not authenticate under key-encryption key {kek_id:?}")]
    KeyUnwrap { kek_id: String },
    /// Another `sealpost vault rotate-key` holds the keyring's update lock.
    #[error("another key rotation is running (it holds {})", path.display())]
    RotationRunning { path: PathBuf },
    #[error("the operating system's random number generator failed")]
    Random,
    /// Work handed to the blocking pool (decrypting a download's batch, an upload's SHA-1 or
    /// SHA-256, a local store's file write) panicked or was cancelled (runtime shutting down).
    #[error("a task on the blocking pool (decryption, digest or file write) did not complete")]
    Task,
    #[error("local store directory {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A vault in another process could not be reached, refused the service credential or
    /// answered something unexpected ([`crate::internal::RemoteVault`]).
    #[error("remote vault")]
    Remote(#[source] crate::internal::RemoteError),
}

impl VaultError {
    /// Wraps a failure of the upload body.
    pub fn source_error<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Self::Source(Box::new(error))
    }
}
