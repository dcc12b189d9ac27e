//! Top-secret documents on the producer's side (`upload --top-secret`, `links --key-file`):
//! the file is sealed here in `sealpost-e2e-v1` ([`shared::e2e`]) as it streams out, so the
//! server stores only ciphertext; the key (random, or derived from a passphrase) never goes
//! to the server: it is added to the links printed here as their `#k=…` fragment, which
//! browsers never send.
//!
//! Retries: every attempt of one upload seals with the same key, salt and nonce prefix (chosen
//! once, [`Sealing::new`]), so a retry sends the same bytes under the same `Idempotency-Key`.
//! The same nonces over the same plaintext give the same ciphertext and reveal nothing more;
//! over a different plaintext they would, so an attempt refuses to start when the file's
//! length or modification time changed since the first ([`Sealing::seal_stream`]).

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use serde_json::{Value, json};
use shared::e2e::{E2eKey, Encryptor, KeySource, MEDIA_TYPE, Params, SEGMENT_SIZE, TAG_LEN};

use super::args::Upload;
use super::http::Api;
use super::upload::Document;
use super::{print_result, usage};

/// The name a top-secret document gets on the server when `--name` is not given: its real
/// name travels inside the ciphertext.
pub const SERVER_NAME: &str = "top-secret";

/// The file name of the document part (the same neutral name).
const PART_FILE_NAME: &str = "top-secret.sealpost-e2e";

/// How one top-secret upload is sealed: the same for every attempt.
pub struct Sealing {
    source: Arc<KeySource>,
    params: Params,
    name: String,
    media_type: String,
    /// The plaintext file's length and modification time when the upload began.
    stamp: Option<(u64, SystemTime)>,
    path: std::path::PathBuf,
    /// The random key's fragment (`k=…`), none for a passphrase.
    pub fragment: Option<String>,
}

impl Sealing {
    /// A fresh key (or the passphrase of `--passphrase-file`) and fresh random values.
    pub fn new(args: &Upload, name: &str, media_type: &str) -> anyhow::Result<Self> {
        let (source, fragment) = match &args.passphrase_file {
            Some(path) => (KeySource::Passphrase(read_passphrase(path)?), None),
            None => {
                let key = E2eKey::try_random()?;
                let fragment = key.to_fragment();
                (KeySource::Key(key), Some(fragment))
            }
        };
        shared::e2e::Metadata::new(name, media_type)
            .map_err(|e| usage(format!("{}: {e}", args.file.display())))?;
        Ok(Self {
            source: Arc::new(source),
            params: Params::random()?,
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            stamp: file_stamp(&args.file),
            path: args.file.clone(),
            fragment,
        })
    }

    /// The document part this sealing sends for the file at `path` of `file_len` bytes.
    pub fn document(self, path: &Path, file_len: u64) -> Document {
        Document {
            file_name: PART_FILE_NAME.to_owned(),
            media_type: MEDIA_TYPE.to_owned(),
            len: sealed_len(self.name.len(), self.media_type.len(), file_len),
            path: path.to_owned(),
            file_len,
            sealing: Some(self),
        }
    }

    /// The ciphertext of `plain`: the header, then the segments as the plaintext arrives.
    pub fn seal_stream<S>(
        &self,
        plain: S,
    ) -> anyhow::Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    {
        anyhow::ensure!(
            file_stamp(&self.path) == self.stamp,
            "{} changed during the upload: not sent again under the same key and nonces",
            self.path.display()
        );
        let (encryptor, header) =
            Encryptor::with_params(&self.source, &self.name, &self.media_type, self.params)?;
        let state = Some((plain, encryptor));
        let body = stream::unfold(state, |state| async move {
            let (mut plain, mut encryptor) = state?;
            let mut out = Vec::new();
            match plain.next().await {
                Some(Ok(chunk)) => match encryptor.push(&chunk, &mut out) {
                    Ok(()) => Some((Ok(Bytes::from(out)), Some((plain, encryptor)))),
                    Err(error) => Some((Err(std::io::Error::other(error)), None)),
                },
                Some(Err(error)) => Some((Err(error), None)),
                None => match encryptor.finish(&mut out) {
                    Ok(()) => Some((Ok(Bytes::from(out)), None)),
                    Err(error) => Some((Err(std::io::Error::other(error)), None)),
                },
            }
        });
        Ok(stream::once(async move { Ok(Bytes::from(header)) }).chain(body))
    }
}

/// The length and modification time of the file at `path`, when it can be read.
fn file_stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

/// The ciphertext's length for a name of `name_len` bytes, a media type of `type_len` bytes and
/// `content_len` bytes of content: the header, the plaintext stream (both lengths, both fields,
/// the content) and one tag per segment (at least one).
pub fn sealed_len(name_len: usize, type_len: usize, content_len: u64) -> u64 {
    let plain = 4 + name_len as u64 + type_len as u64 + content_len;
    let segments = plain.div_ceil(u64::from(SEGMENT_SIZE)).max(1);
    shared::e2e::HEADER_LEN as u64 + plain + segments * TAG_LEN as u64
}

/// The first line of a passphrase file (a usage error when it is empty).
pub fn read_passphrase(path: &Path) -> anyhow::Result<secrecy::SecretString> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("--passphrase-file {}: {e}", path.display())))?,
    );
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(usage(format!(
            "--passphrase-file {}: the first line is empty",
            path.display()
        )));
    }
    Ok(secrecy::SecretString::from(line.to_owned()))
}

/// The `k=…` fragment in a key file (written by `upload --save-key`).
pub fn read_key_file(path: &Path) -> anyhow::Result<String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("--key-file {}: {e}", path.display())))?,
    );
    let key = E2eKey::from_fragment(&text)
        .map_err(|e| usage(format!("--key-file {}: {e}", path.display())))?;
    Ok(key.to_fragment())
}

/// After a top-secret upload: saves the key (`--save-key`), fetches the links and prints the
/// record with every viewer's link (`#k=…` appended for a random key).
pub async fn print_upload(
    api: &Api,
    args: &Upload,
    sealing: &Sealing,
    record: Value,
) -> anyhow::Result<()> {
    if let (Some(path), Some(fragment)) = (&args.save_key, &sealing.fragment) {
        shared::private_file::write(path, format!("{fragment}\n").as_bytes())
            .with_context(|| format!("--save-key {}", path.display()))?;
    }
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("the record has no id"))?;
    let mut links = match super::links::fetch(api, id).await {
        Ok(links) => links,
        Err(error) => {
            // The document is stored and its random key exists nowhere else: say it (on
            // stderr, the producer's own terminal) rather than lose the document for good.
            if let (None, Some(fragment)) = (&args.save_key, &sealing.fragment) {
                eprintln!(
                    "sealpost: document {id} is stored but its links could not be fetched; its \
                     key is {fragment}: keep it (e.g. in a file for `sealpost links {id} \
                     --key-file FILE`), without it the document cannot be decrypted"
                );
            }
            return Err(error);
        }
    };
    if let Some(fragment) = &sealing.fragment {
        super::links::add_fragment(&mut links, fragment);
    }
    let text = format!(
        "{record:#}\n{}",
        super::links::hrefs(&links)
            .map(|href| format!("{href}\n"))
            .collect::<String>()
    );
    let value = json!({ "record": record, "links": links });
    print_result(args.remote.json, &value, Some(text));
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_sealed_length_is_what_the_encryptor_writes() {
        let segment = SEGMENT_SIZE as u64;
        for content in [
            0,
            1,
            segment - 20,
            segment - 19,
            segment,
            segment + 1,
            3 * segment,
        ] {
            let source = KeySource::Key(E2eKey::from_bytes([7; 32]));
            let (mut encryptor, header) =
                Encryptor::with_params(&source, "a.txt", "text/plain", Params::random().unwrap())
                    .unwrap();
            let mut out = header;
            let content_bytes = vec![1u8; usize::try_from(content).unwrap()];
            encryptor.push(&content_bytes, &mut out).unwrap();
            encryptor.finish(&mut out).unwrap();
            assert_eq!(out.len() as u64, sealed_len(5, 10, content), "{content}");
        }
    }
}
