//! A `multipart/form-data` body built as a stream (RFC 7578): the text parts, then the
//! document part whose bytes come from a stream, so an upload of any size takes constant
//! memory.
//!
//! The boundary is chosen once per logical operation ([`Form::new`]) and every attempt of it
//! sends the same bytes: a retry under the same `Idempotency-Key` is the same request.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};

/// The parts of one upload form, without the document's bytes.
pub struct Form {
    boundary: String,
    head: String,
}

impl Form {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Self {
        Self {
            boundary: format!("sealpost-{}", schema::ObjectKey::random()),
            head: String::new(),
        }
    }

    /// The `Content-Type` header of the body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Adds a text part `name` (a JSON text when `json`).
    pub fn text(&mut self, name: &str, value: &str, json: bool) {
        let content_type = if json {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        self.head.push_str(&format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n{value}\r\n",
            self.boundary,
            quote(name)
        ));
    }

    /// The bytes before and after the document's, for a document part `file_name` of type
    /// `media_type`.
    fn frame(&self, file_name: &str, media_type: &str) -> (Bytes, Bytes) {
        let head = format!(
            "{}--{}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{}\"\r\nContent-Type: {media_type}\r\n\r\n",
            self.head,
            self.boundary,
            quote(file_name)
        );
        let tail = format!("\r\n--{}--\r\n", self.boundary);
        (Bytes::from(head), Bytes::from(tail))
    }

    /// The body of a form of text parts only.
    pub fn text_body(&self) -> reqwest::Body {
        reqwest::Body::from(format!("{}--{}--\r\n", self.head, self.boundary))
    }

    /// The length of [`text_body`](Self::text_body).
    pub fn text_len(&self) -> u64 {
        (self.head.len() + self.boundary.len() + 6) as u64
    }

    /// The whole body's length for a document of `document_len` bytes.
    pub fn len(&self, file_name: &str, media_type: &str, document_len: u64) -> u64 {
        let (head, tail) = self.frame(file_name, media_type);
        (head.len() + tail.len()) as u64 + document_len
    }

    /// The body: the parts, then `document`'s bytes as the document part, then the end.
    pub fn body<S>(&self, file_name: &str, media_type: &str, document: S) -> reqwest::Body
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        reqwest::Body::wrap_stream(self.stream(file_name, media_type, document))
    }

    /// The body's bytes as a stream.
    fn stream<S>(
        &self,
        file_name: &str,
        media_type: &str,
        document: S,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let (head, tail) = self.frame(file_name, media_type);
        stream::once(async move { Ok(head) })
            .chain(document)
            .chain(stream::once(async move { Ok(tail) }))
    }
}

impl Default for Form {
    fn default() -> Self {
        Self::new()
    }
}

/// A name or file name inside a quoted header parameter, as browsers write it (WHATWG HTML,
/// "multipart/form-data encoding"): `"`, CR and LF percent-encoded.
fn quote(value: &str) -> String {
    value
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_body_is_a_multipart_form_of_known_length() {
        let mut form = Form::new();
        form.text("metadata", "{\"a\":1}", true);
        let document = stream::iter([Ok(Bytes::from_static(b"hello"))]);
        let expected = form.len("a\"b.txt", "text/plain", 5);
        let bytes: Vec<u8> = form
            .stream("a\"b.txt", "text/plain", document)
            .map(|chunk| chunk.unwrap().to_vec())
            .concat()
            .await;
        assert_eq!(bytes.len() as u64, expected);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains(
                "name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{\"a\":1}\r\n"
            )
        );
        assert!(
            text.contains("filename=\"a%22b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--")
        );
        assert!(text.ends_with("--\r\n"));
        let fields = form.text_body();
        assert_eq!(fields.as_bytes().unwrap().len() as u64, form.text_len());
    }
}
