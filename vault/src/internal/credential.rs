//! [`ServiceCredential`]: the shared secret other services present to the internal object API.
//!
//! A random 256-bit value written as 43 base64url characters. It comes from configuration
//! (`vault.service_token`, e.g. from a container secret) or from a 0600 file
//! (`vault.service_token_file`, default `DIR/vault-service-token`) that the vault creates on
//! first start. Whoever holds it can store, read and delete any object, so it is treated like
//! a key: zeroed on drop, redacted in `Debug`, never logged, compared in constant time.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret as _;
use shared::config::Settings;
use shared::private_file::{self, PrivateFileError};
use zeroize::Zeroizing;

/// Default file name of the credential inside the data directory.
pub const SERVICE_TOKEN_FILE: &str = "vault-service-token";
/// Random bytes in a generated credential, and the least a configured one must carry.
const SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The text is not base64url of at least 256 bits. The value itself is never quoted.
    #[error(
        "the vault service token must be at least 32 random bytes in unpadded base64url \
         (e.g. `head -c 32 /dev/urandom | basenc --base64url | tr -d =`)"
    )]
    Malformed,
    #[error(
        "no vault service token: {} does not exist (start the vault first, which creates it, \
         or set vault.service_token)", path.display()
    )]
    Missing { path: PathBuf },
    #[error("the operating system's random number generator failed")]
    Random,
    #[error(transparent)]
    File(#[from] PrivateFileError),
}

/// The service credential. `Clone` so a client and a server in one process can share it.
#[derive(Clone)]
pub struct ServiceCredential(Zeroizing<String>);

impl fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceCredential([redacted])")
    }
}

impl ServiceCredential {
    /// A fresh random credential.
    pub fn generate() -> Result<Self, CredentialError> {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes.as_mut())
            .map_err(|_| CredentialError::Random)?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))))
    }

    /// Accepts configured text (surrounding whitespace ignored, as files end in newlines).
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| CredentialError::Malformed)?,
        );
        if decoded.len() < SECRET_BYTES {
            return Err(CredentialError::Malformed);
        }
        Ok(Self(Zeroizing::new(text.to_owned())))
    }

    /// Loads the credential at `path` (refused when group or others can read it); when the
    /// file is absent, creates one if `create`, else fails with [`CredentialError::Missing`].
    pub fn load(path: &Path, create: bool) -> Result<Self, CredentialError> {
        if let Some(bytes) = private_file::read(path)? {
            let bytes = Zeroizing::new(bytes);
            let text = std::str::from_utf8(&bytes).map_err(|_| CredentialError::Malformed)?;
            return Self::parse(text);
        }
        if !create {
            return Err(CredentialError::Missing {
                path: path.to_owned(),
            });
        }
        let credential = Self::generate()?;
        private_file::write(path, credential.0.as_bytes())?;
        Ok(credential)
    }

    /// The credential the settings name: `vault.service_token` when set, else the file
    /// `vault.service_token_file` (default `DIR/vault-service-token`). The vault passes
    /// `create = true`; a client does not, so a typo in its path fails at start instead of
    /// minting a credential the vault does not know.
    pub fn from_settings(settings: &Settings, create: bool) -> Result<Self, CredentialError> {
        let configured = settings.vault.service_token.expose_secret();
        if !configured.trim().is_empty() {
            return Self::parse(configured);
        }
        Self::load(&token_path(settings), create)
    }

    /// Whether `presented` is this credential, in time independent of where they differ and
    /// of its length (digests compared).
    pub fn matches(&self, presented: &[u8]) -> bool {
        shared::secret_eq::ct_eq_digest(self.0.as_bytes(), presented)
    }

    /// The text to send in `Authorization: Bearer …` (never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The credential file the settings name.
pub fn token_path(settings: &Settings) -> PathBuf {
    if settings.vault.service_token_file.as_os_str().is_empty() {
        settings.data_dir.join(SERVICE_TOKEN_FILE)
    } else {
        settings.vault.service_token_file.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_parse_and_compare() {
        let credential = ServiceCredential::generate().unwrap();
        assert_eq!(credential.expose().len(), 43);
        let again = ServiceCredential::parse(&format!(" {}\n", credential.expose())).unwrap();
        assert!(again.matches(credential.expose().as_bytes()));
        assert!(!credential.matches(b""));
        let other = ServiceCredential::generate().unwrap();
        assert!(!credential.matches(other.expose().as_bytes()));
        assert_eq!(format!("{credential:?}"), "ServiceCredential([redacted])");
    }

    #[test]
    fn weak_or_malformed_text_is_refused() {
        for text in [
            "",
            "short",
            "not base64url!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
            "AAAA",
        ] {
            assert!(matches!(
                ServiceCredential::parse(text),
                Err(CredentialError::Malformed)
            ));
        }
    }

    #[test]
    fn the_file_is_created_once_0600_and_required_by_clients() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SERVICE_TOKEN_FILE);
        assert!(matches!(
            ServiceCredential::load(&path, false),
            Err(CredentialError::Missing { .. })
        ));
        let first = ServiceCredential::load(&path, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = ServiceCredential::load(&path, false).unwrap();
        assert!(second.matches(first.expose().as_bytes()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            ServiceCredential::load(&path, false),
            Err(CredentialError::File(PrivateFileError::Insecure { .. }))
        ));
    }
}
