//! [`RemoteVault`]: the internal object API from the caller's side, with the semantics of the
//! in-process [`crate::Vault`]: a streamed `put` that returns a [`RemoteObject`] to keep or
//! discard (dropping it unkept deletes it), a streamed `read`, `delete` and `delete_blob`.
//!
//! Nothing is buffered whole: an upload is pumped through a small channel (the caller's body
//! need not be `Send`; actix-multipart's fields are not) into a streaming request body, and a
//! download is the response body as it arrives.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use schema::ObjectKey;

use super::credential::ServiceCredential;
use super::frames::{self, MAX_FRAME};
use super::routes::{OBJECTS_PATH, SHA1_HEADER, Stored};
use crate::{ObjectOwner, ObjectReader, PendingObject, VaultError};

/// Frames queued between the caller's body and the request: bounds an upload's memory.
const FRAMES_IN_FLIGHT: usize = 8;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The vault's keep-alive when the caller does not say (`server.keep_alive_secs`' default).
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(shared::config::DEFAULT_KEEP_ALIVE_SECS);

/// Why a call to the remote vault failed, beyond what [`VaultError`] already names.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the vault at {url} is not a valid base URL")]
    BadUrl { url: String },
    #[error("the vault refused the service credential (check vault.service_token on both sides)")]
    Unauthorized,
    #[error("the vault answered {0}")]
    Status(StatusCode),
    #[error("the vault's answer was malformed")]
    Malformed,
    #[error("calling the vault failed")]
    Transport(#[source] reqwest::Error),
    #[error("vault.internal_ca_file holds no PEM certificate")]
    BadCa(#[source] reqwest::Error),
}

impl From<RemoteError> for VaultError {
    fn from(error: RemoteError) -> Self {
        Self::Remote(error)
    }
}

fn transport(error: reqwest::Error) -> VaultError {
    RemoteError::Transport(error).into()
}

/// A vault in another process. Cheap to clone.
#[derive(Clone)]
pub struct RemoteVault {
    http: reqwest::Client,
    /// `{internal_url}/internal/v1/objects`
    objects: String,
    credential: ServiceCredential,
}

impl fmt::Debug for RemoteVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteVault")
            .field("objects", &self.objects)
            .finish_non_exhaustive()
    }
}

impl RemoteVault {
    /// A client for the vault at `base_url` (`vault.internal_url`), which keeps idle
    /// connections for the default `server.keep_alive_secs`. Redirects are never followed: the
    /// credential must not travel to another host.
    pub fn new(base_url: &str, credential: ServiceCredential) -> Result<Self, RemoteError> {
        Self::trusting(base_url, credential, None, DEFAULT_KEEP_ALIVE)
    }

    /// [`Self::new`], trusting only the CA certificates in `ca_pem` (PEM, `vault.internal_ca_file`)
    /// for an `https://` vault when given, the system's roots otherwise, for a vault that closes
    /// idle connections after `keep_alive` (zero: after every answer).
    ///
    /// An idle connection is reused for at most half of `keep_alive`. Reusing one the vault is
    /// closing at that moment fails the call with nothing to retry it from (an upload's body is a
    /// stream, read once): hyper's well-known race with a server's keep-alive
    /// (hyperium/hyper#2136), which surfaced as a rare 500 on `POST /documents`.
    pub fn trusting(
        base_url: &str,
        credential: ServiceCredential,
        ca_pem: Option<&[u8]>,
        keep_alive: Duration,
    ) -> Result<Self, RemoteError> {
        let base = base_url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base).map_err(|_| RemoteError::BadUrl {
            url: base.to_owned(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(RemoteError::BadUrl {
                url: base.to_owned(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(keep_alive / 2);
        if keep_alive.is_zero() {
            builder = builder.pool_max_idle_per_host(0);
        }
        if let Some(pem) = ca_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(RemoteError::BadCa)?;
            builder = builder.tls_certs_only(roots);
        }
        let http = builder.build().map_err(RemoteError::Transport)?;
        Ok(Self {
            http,
            objects: format!("{base}{OBJECTS_PATH}"),
            credential,
        })
    }

    fn url(&self, key: &ObjectKey, suffix: &str) -> String {
        format!("{}/{key}{suffix}", self.objects)
    }

    /// Streams `body` into the remote vault, as [`crate::Vault::put`]. When the body fails or
    /// passes `max_size`, the vault is told to abandon the upload and this returns only once it
    /// has answered, that is once nothing of the upload remains.
    pub async fn put<S, E>(&self, body: S, max_size: u64) -> Result<RemoteObject, VaultError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(FRAMES_IN_FLIGHT);
        let frames = futures_util::stream::poll_fn(move |cx| {
            receiver
                .poll_recv(cx)
                .map(|frame| frame.map(Ok::<_, std::convert::Infallible>))
        });
        let request = self
            .http
            .post(&self.objects)
            .query(&[("max_size", max_size)])
            .bearer_auth(self.credential.expose())
            .header(CONTENT_TYPE, frames::MEDIA_TYPE)
            .body(reqwest::Body::wrap_stream(frames))
            .send();
        let pump = pump(body, max_size, sender);
        tokio::pin!(request, pump);
        let verdict = tokio::select! {
            biased;
            // The vault answered before the body was sent: it failed, and has cleaned up.
            response = &mut request => return self.stored(response, max_size).await,
            verdict = &mut pump => verdict,
        };
        let response = request.await;
        match verdict {
            Ok(()) => self.stored(response, max_size).await,
            Err(error) => {
                // An aborted upload is never stored; should a broken vault say otherwise,
                // delete what it reports.
                if let Ok(object) = self.stored(response, max_size).await {
                    object.discard().await;
                }
                Err(error)
            }
        }
    }

    /// The object a put's answer reports.
    async fn stored(
        &self,
        response: Result<reqwest::Response, reqwest::Error>,
        max_size: u64,
    ) -> Result<RemoteObject, VaultError> {
        let response = response.map_err(transport)?;
        match response.status() {
            StatusCode::CREATED => {}
            StatusCode::PAYLOAD_TOO_LARGE => return Err(VaultError::TooLarge { limit: max_size }),
            StatusCode::BAD_REQUEST => {
                return Err(VaultError::source_error(RemoteError::Status(
                    StatusCode::BAD_REQUEST,
                )));
            }
            status => return Err(status_error(status)),
        }
        let stored: Stored = response.json().await.map_err(transport)?;
        let key = ObjectKey::parse(&stored.key).map_err(|_| RemoteError::Malformed)?;
        Ok(PendingObject::new(
            self.clone(),
            key,
            stored.size,
            stored.sha1,
        ))
    }

    /// The whole plaintext as it arrives. Should the vault break off (a segment failed
    /// authentication there), the stream ends with an error, never early and clean.
    pub async fn read(&self, key: &ObjectKey) -> Result<ObjectReader, VaultError> {
        let response = self
            .http
            .get(self.url(key, ""))
            .bearer_auth(self.credential.expose())
            .send()
            .await
            .map_err(transport)?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Err(VaultError::NotFound),
            status => return Err(status_error(status)),
        }
        let size = response.content_length().ok_or(RemoteError::Malformed)?;
        let sha1_hex = response
            .headers()
            .get(SHA1_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|text| text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(RemoteError::Malformed)?
            .to_owned();
        let stream = response.bytes_stream().map_err(transport).boxed();
        Ok(ObjectReader {
            size,
            sha1_hex,
            stream,
        })
    }

    /// Deletes row then blob, as [`crate::Vault::delete`].
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.delete_url(self.url(key, "")).await
    }

    /// Deletes only the blob, as [`crate::Vault::delete_blob`].
    pub async fn delete_blob(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.delete_url(self.url(key, "/blob")).await
    }

    async fn delete_url(&self, url: String) -> Result<(), VaultError> {
        let response = self
            .http
            .delete(url)
            .bearer_auth(self.credential.expose())
            .send()
            .await
            .map_err(transport)?;
        match response.status() {
            StatusCode::NO_CONTENT => Ok(()),
            status => Err(status_error(status)),
        }
    }
}

fn status_error(status: StatusCode) -> VaultError {
    if status == StatusCode::UNAUTHORIZED {
        RemoteError::Unauthorized.into()
    } else {
        RemoteError::Status(status).into()
    }
}

/// Copies `body` into frames for the request, enforcing `max_size` on this side so an
/// oversized body is abandoned ([`frames::ABORT`]) rather than cut off. Stops quietly when the
/// request is gone (the vault answered early; its answer tells what happened).
async fn pump<S, E>(
    mut body: S,
    max_size: u64,
    sender: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), VaultError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut size = 0u64;
    let outcome = loop {
        let chunk = match body.next().await {
            None => break Ok(()),
            Some(Err(error)) => break Err(VaultError::source_error(error)),
            Some(Ok(chunk)) => chunk,
        };
        size = size.saturating_add(chunk.len() as u64);
        if size > max_size {
            break Err(VaultError::TooLarge { limit: max_size });
        }
        let mut offset = 0;
        while offset < chunk.len() {
            let piece = chunk.slice(offset..chunk.len().min(offset + MAX_FRAME));
            offset += piece.len();
            if sender.send(frames::header(piece.len())).await.is_err()
                || sender.send(piece).await.is_err()
            {
                return Ok(());
            }
        }
    };
    let last: &'static [u8] = if outcome.is_ok() {
        &frames::END
    } else {
        &frames::ABORT
    };
    // Dropping the sender afterwards ends the request body.
    let _ = sender.send(Bytes::from_static(last)).await;
    outcome
}

/// A remotely stored object not yet committed to (see [`PendingObject`]).
pub type RemoteObject = PendingObject<RemoteVault>;

impl ObjectOwner for RemoteVault {
    async fn delete_object(&self, key: &ObjectKey) -> Result<(), VaultError> {
        self.delete(key).await
    }
}
