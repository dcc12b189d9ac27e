//! [`ZipBody`]: an export's zip as a response body, sent while it is written.
//!
//! The writer runs inside the body stream itself (no spawned task): each poll first lets the
//! writer advance, then hands over what it has written so far. The two meet in an in-memory
//! pipe of [`PIPE`] bytes, so memory stays constant and a slow client slows the database read
//! down instead of piling bytes up. When the client goes away the body is dropped, and the
//! writer with it, mid-query.
//!
//! A writer that fails (a database error mid-export) never writes `manifest.json`,
//! `manifest.sig` or the zip's central directory. The body hands over the bytes already
//! written and then ends with an error, on which actix-web closes the connection without the
//! chunked encoding's last chunk: the client sees a truncated transfer, never a complete
//! response, and what it saved does not verify.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use shared::logzip::ExportError;
use tokio::io::DuplexStream;
use tokio_util::io::ReaderStream;

/// The pipe between the writer and the client, and the largest chunk handed to actix-web.
pub const PIPE: usize = 256 * 1024;

/// The zip written by `F`, as a stream of chunks; ends with an error if `F` fails.
pub struct ZipBody<F> {
    writer: Option<Pin<Box<F>>>,
    reader: ReaderStream<DuplexStream>,
    failure: Option<ExportError>,
}

impl<F> ZipBody<F>
where
    F: Future<Output = Result<(), ExportError>>,
{
    /// `write` gets the pipe's writing end and must drop it when done (it owns it).
    pub fn new(write: impl FnOnce(DuplexStream) -> F) -> Self {
        let (out, reader) = tokio::io::duplex(PIPE);
        Self {
            writer: Some(Box::pin(write(out))),
            reader: ReaderStream::with_capacity(reader, PIPE),
            failure: None,
        }
    }
}

impl<F> Stream for ZipBody<F>
where
    F: Future<Output = Result<(), ExportError>>,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(writer) = this.writer.as_mut()
            && let Poll::Ready(result) = writer.as_mut().poll(cx)
        {
            // Dropping the writer closes the pipe: the reader ends once it is drained.
            this.writer = None;
            this.failure = result.err();
        }
        match Pin::new(&mut this.reader).poll_next(cx) {
            Poll::Ready(None) => Poll::Ready(this.failure.take().map(|error| {
                tracing::error!(error = %error, "logs export failed mid-stream: connection cut");
                Err(std::io::Error::other(error))
            })),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;
    use futures_util::StreamExt as _;
    use schema::audit::{GENESIS, chain};
    use schema::{LogKind, LogLine, ProducerId, RepoError};
    use shared::keys::SigningKey;
    use shared::logzip::write::Scope;
    use shared::logzip::{ExportWriter, KeySet};
    use tokio::sync::mpsc;

    use super::*;

    fn line(prev: &str, i: usize) -> LogLine {
        let fields = format!("-\tapi\t{i}\tx");
        LogLine {
            seq: i as i64,
            producer_id: None,
            document_id: None,
            time: Utc::now(),
            chain: chain(prev, &fields),
            fields,
            prev: prev.to_owned(),
        }
    }

    fn received<T>(receive: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> {
        futures_util::stream::unfold(receive, |mut receive| async move {
            receive.recv().await.map(|item| (item, receive))
        })
    }

    /// A body whose api log's lines come from the returned sender, as the database would hand
    /// them over; closing the sender ends the log, and the export then finishes.
    fn body(
        dir: &std::path::Path,
        key: SigningKey,
    ) -> (
        mpsc::UnboundedSender<Result<LogLine, RepoError>>,
        impl Stream<Item = std::io::Result<Bytes>>,
    ) {
        let (send, receive) = mpsc::unbounded_channel();
        let scope = Scope {
            producer: ProducerId::random(),
            document: None,
            from: None,
            to: Utc::now(),
            generated_at: Utc::now(),
        };
        let dir = dir.to_owned();
        let body = ZipBody::new(move |out| async move {
            let mut writer = ExportWriter::new(out, scope, dir);
            writer.write_log(LogKind::Api, received(receive)).await?;
            for kind in [LogKind::Gateway, LogKind::Vault] {
                writer
                    .write_log(kind, futures_util::stream::empty())
                    .await?;
            }
            writer.finish(&key).await.map(drop)
        });
        (send, body)
    }

    #[tokio::test]
    async fn the_first_bytes_come_before_the_last_record_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let keys = KeySet::of(&key);
        let (send, body) = body(dir.path(), key);
        let mut body = std::pin::pin!(body);
        let mut prev = GENESIS.to_owned();
        for i in 0..20_000 {
            let line = line(&prev, i);
            prev.clone_from(&line.chain);
            send.send(Ok(line)).unwrap();
        }
        // The source is still open (more records may follow), yet the zip has begun.
        let first = body.next().await.unwrap().unwrap();
        assert!(first.starts_with(b"PK\x03\x04"), "a local file header");
        assert!(!send.is_closed());
        let mut zip = first.to_vec();
        drop(send);
        while let Some(chunk) = body.next().await {
            zip.extend_from_slice(&chunk.unwrap());
        }
        let path = dir.path().join("streamed.zip");
        std::fs::write(&path, &zip).unwrap();
        let report = shared::logzip::verify(&path, &keys).await.unwrap();
        assert_eq!(report.manifest.logs[0].records, 20_000);
    }

    #[tokio::test]
    async fn an_export_failing_mid_stream_ends_in_an_error_and_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let keys = KeySet::of(&key);
        let (send, body) = body(dir.path(), key);
        let mut prev = GENESIS.to_owned();
        for i in 0..5_000 {
            let line = line(&prev, i);
            prev.clone_from(&line.chain);
            send.send(Ok(line)).unwrap();
        }
        send.send(Err(RepoError::Corrupt("connection lost".into())))
            .unwrap();
        let chunks: Vec<_> = body.collect().await;
        let (last, sent) = chunks.split_last().unwrap();
        assert!(last.is_err(), "the body ends in an error");
        let zip: Vec<u8> = sent
            .iter()
            .flat_map(|c| c.as_ref().unwrap().to_vec())
            .collect();
        assert!(zip.starts_with(b"PK\x03\x04"));
        let contains = |needle: &[u8]| zip.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(b"manifest"), "no manifest entry was written");
        let path = dir.path().join("cut.zip");
        std::fs::write(&path, &zip).unwrap();
        assert!(shared::logzip::verify(&path, &keys).await.is_err());
    }
}
