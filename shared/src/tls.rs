//! TLS built in (DESIGN.md, "Operating it"): each service can serve HTTPS itself.
//!
//! - **Protocol**: rustls on aws-lc-rs (the provider reqwest, lettre and jsonwebtoken already
//!   build; ring is never asked to do TLS), TLS 1.2 and 1.3 only, rustls's default cipher
//!   suites (AEAD only: AES-GCM and ChaCha20-Poly1305, forward-secret key exchange).
//! - **Certificate**: a chain and its key, PEM files (`[tls] cert_file`, `key_file`, or
//!   `--tls-cert`/`--tls-key`), served through [`CertificateResolver`], which holds the current
//!   certificate behind a lock, re-read on SIGHUP, so new handshakes get the new certificate
//!   while open connections carry on. A file that does not load keeps the old certificate and
//!   logs one error line. The services of one process configured with the same files
//!   (`sealpost up`) share one resolver, so a SIGHUP reads the files once and logs one line.
//! - **HSTS**: every HTTPS answer carries [`HSTS`] ([`hsts`], a no-op on plain HTTP).
//! - **Plain HTTP**: refused on a non-loopback address unless `tls.allow_plain_http = true`
//!   ([`refuse_plain_http`], [`check_internal_url`]): Basic credentials, viewer tokens and the
//!   vault's service token must not cross a network in clear.

use std::any::Any;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use actix_web::http::header::{HeaderValue, STRICT_TRANSPORT_SECURITY};
use actix_web::middleware::{Condition, DefaultHeaders};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::TlsSettings;

/// The `Strict-Transport-Security` value of every HTTPS answer: one year, this host only (a
/// deployment may serve other names over plain HTTP; `includeSubDomains` is its decision).
pub const HSTS: &str = "max-age=31536000";

/// Why TLS could not be set up, or plain HTTP is refused. Messages name the setting to change.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("set both tls.cert_file and tls.key_file (--tls-cert and --tls-key), or neither")]
    HalfConfigured,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{0}: no certificate in it")]
    NoCertificate(PathBuf),
    #[error("the key in {key} does not fit the certificate in {cert}: {source}")]
    Key {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("TLS set-up: {0}")]
    Config(#[source] rustls::Error),
    #[error("installing the SIGHUP handler (certificate reload): {0}")]
    Signal(#[source] std::io::Error),
    #[error(
        "refusing plain HTTP on {addr} ({service}): a non-loopback address would carry credentials \
         and tokens in clear; set tls.cert_file and tls.key_file (--tls-cert/--tls-key) to serve \
         HTTPS, or tls.allow_plain_http = true (SEALPOST__TLS__ALLOW_PLAIN_HTTP=true) behind a \
         TLS-terminating proxy"
    )]
    PlainHttp {
        service: &'static str,
        addr: SocketAddr,
    },
    #[error(
        "refusing vault.internal_url {url}: the service token would cross the network in clear; \
         use https:// (with vault.internal_ca_file) or set tls.allow_plain_http = true"
    )]
    PlainInternalUrl { url: String },
}

/// The one crypto provider TLS uses (see the module doc).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Where the certificate chain and its key are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl CertificateFiles {
    /// Reads and checks both files: a chain of at least one certificate, a key that fits it.
    fn load(&self) -> Result<CertifiedKey, TlsError> {
        let read = |path: &Path| {
            let path = path.to_owned();
            move |source| TlsError::Read { path, source }
        };
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .map_err(read(&self.cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read(&self.cert))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(self.cert.clone()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(read(&self.key))?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|source| TlsError::Key {
            cert: self.cert.clone(),
            key: self.key.clone(),
            source,
        })
    }
}

/// Serves the current certificate to every handshake; [`Self::reload`] swaps it.
pub struct CertificateResolver {
    files: CertificateFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CertificateResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateResolver")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl CertificateResolver {
    /// Re-reads the files; on failure the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = Arc::new(self.files.load()?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(())
    }

    /// The live resolver of `files` in this process, else a new one (files loaded now) with its
    /// SIGHUP task, which ends once the resolver is dropped.
    fn shared(files: CertificateFiles) -> Result<Arc<Self>, TlsError> {
        static LIVE: Mutex<Vec<Weak<CertificateResolver>>> = Mutex::new(Vec::new());
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|resolver| resolver.strong_count() > 0);
        let mut existing = live.iter().filter_map(Weak::upgrade);
        if let Some(resolver) = existing.find(|resolver| resolver.files == files) {
            return Ok(resolver);
        }
        let resolver = Arc::new(Self {
            current: RwLock::new(Arc::new(files.load()?)),
            files,
        });
        reload_on_sighup(Arc::downgrade(&resolver)).map_err(TlsError::Signal)?;
        live.push(Arc::downgrade(&resolver));
        Ok(resolver)
    }
}

/// Re-reads `resolver`'s files on every SIGHUP while it lives. A file that does not load keeps
/// the old certificate and logs one error line.
fn reload_on_sighup(resolver: Weak<CertificateResolver>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(resolver) = resolver.upgrade() else {
                return;
            };
            match resolver.reload() {
                Ok(()) => tracing::info!(
                    cert_file = %resolver.files.cert.display(),
                    "TLS certificate reloaded"
                ),
                Err(error) => tracing::error!(
                    error = %error,
                    "TLS certificate reload failed; still serving the previous certificate"
                ),
            }
        }
    });
    Ok(())
}

/// A service's TLS: cheap to clone, one resolver shared by every worker.
#[derive(Debug, Clone)]
pub struct ServerTls {
    resolver: Arc<CertificateResolver>,
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// TLS from the settings: `None` when neither file is set (plain HTTP). Needs a tokio
    /// runtime (the SIGHUP task).
    pub fn from_settings(settings: &TlsSettings) -> Result<Option<Self>, TlsError> {
        let (cert, key) = (&settings.cert_file, &settings.key_file);
        match (cert.as_os_str().is_empty(), key.as_os_str().is_empty()) {
            (true, true) => return Ok(None),
            (false, false) => {}
            _ => return Err(TlsError::HalfConfigured),
        }
        let files = CertificateFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        let resolver = CertificateResolver::shared(files)?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        Ok(Some(Self {
            resolver,
            config: Arc::new(config),
        }))
    }

    /// The rustls configuration a listener serves (actix adds its ALPN protocols).
    pub fn server_config(&self) -> ServerConfig {
        (*self.config).clone()
    }

    /// The resolver, to reload by hand.
    pub fn resolver(&self) -> &CertificateResolver {
        &self.resolver
    }
}

/// The `--tls-cert FILE --tls-key FILE` flags of `sealpost up` and the service binaries, over
/// whatever the configuration said.
pub fn apply_flags(settings: &mut TlsSettings, cert: Option<PathBuf>, key: Option<PathBuf>) {
    if let Some(cert) = cert {
        settings.cert_file = cert;
    }
    if let Some(key) = key {
        settings.key_file = key;
    }
}

/// `https://{addr}` when TLS is configured, else `http://{addr}` (what the binaries print).
pub fn base_url(settings: &TlsSettings, addr: SocketAddr) -> String {
    crate::config::public_url("", addr, settings.enabled())
}

/// The TLS of a service about to serve on `addr`: as configured, or `None` for plain HTTP,
/// which a non-loopback address gets only with `tls.allow_plain_http`.
pub fn for_service(
    settings: &TlsSettings,
    service: &'static str,
    addr: SocketAddr,
) -> Result<Option<ServerTls>, TlsError> {
    let tls = ServerTls::from_settings(settings)?;
    if tls.is_none() {
        refuse_plain_http(service, addr, settings.allow_plain_http)?;
    }
    Ok(tls)
}

/// Plain HTTP on `addr` is refused unless the address is loopback or `allow` is set.
pub fn refuse_plain_http(
    service: &'static str,
    addr: SocketAddr,
    allow: bool,
) -> Result<(), TlsError> {
    if allow || addr.ip().to_canonical().is_loopback() {
        Ok(())
    } else {
        Err(TlsError::PlainHttp { service, addr })
    }
}

/// An `http://` `vault.internal_url` is refused unless it names a loopback host (an address,
/// or `localhost`) or `allow` is set: the service token travels with every request.
pub fn check_internal_url(url: &str, allow: bool) -> Result<(), TlsError> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(()); // the client names a malformed URL itself
    };
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if parsed.scheme() != "http" || loopback || allow {
        Ok(())
    } else {
        Err(TlsError::PlainInternalUrl {
            url: url.to_owned(),
        })
    }
}

/// The middleware adding [`HSTS`] to every answer when `on` (HTTPS); nothing otherwise.
pub fn hsts(on: bool) -> Condition<DefaultHeaders> {
    let headers =
        DefaultHeaders::new().add((STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS)));
    Condition::new(on, headers)
}

/// The TCP socket under an accepted connection, plain or TLS (the `on_connect` hooks' view).
pub fn tcp_stream(connection: &dyn Any) -> Option<&actix_web::rt::net::TcpStream> {
    use actix_tls::accept::rustls_0_23::TlsStream;
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        return Some(stream);
    }
    let tls = connection.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>()?;
    Some(tls.get_ref().0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_http_only_on_loopback_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:8080".parse().unwrap();
        assert!(refuse_plain_http("api", loopback, false).is_ok());
        assert!(refuse_plain_http("api", mapped, false).is_ok());
        assert!(refuse_plain_http("api", "[::1]:1".parse().unwrap(), false).is_ok());
        let refused = refuse_plain_http("api", public, false).unwrap_err();
        assert!(refused.to_string().contains("tls.allow_plain_http = true"));
        assert!(refuse_plain_http("api", public, true).is_ok());
    }

    #[test]
    fn internal_url_in_clear_only_to_loopback_unless_allowed() {
        assert!(check_internal_url("http://127.0.0.1:8082", false).is_ok());
        assert!(check_internal_url("http://localhost:8082", false).is_ok());
        assert!(check_internal_url("http://[::1]:8082", false).is_ok());
        assert!(check_internal_url("https://vault:8082", false).is_ok());
        assert!(check_internal_url("http://vault:8082", false).is_err());
        assert!(check_internal_url("http://10.0.0.5:8082", false).is_err());
        assert!(check_internal_url("http://vault:8082", true).is_ok());
    }

    #[test]
    fn half_a_configuration_is_refused() {
        let settings = TlsSettings {
            cert_file: "/x/cert.pem".into(),
            key_file: PathBuf::new(),
            allow_plain_http: false,
        };
        assert!(matches!(
            ServerTls::from_settings(&settings),
            Err(TlsError::HalfConfigured)
        ));
        let none = TlsSettings {
            cert_file: PathBuf::new(),
            ..settings
        };
        assert!(ServerTls::from_settings(&none).unwrap().is_none());
    }
}
