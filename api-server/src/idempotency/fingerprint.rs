//! What identifies a request's body: SHA-256 of the bytes as received, with the multipart
//! boundary taken out.
//!
//! Clients choose a fresh random boundary for every request they build (reqwest, curl and
//! browsers all do), so a retry of the same upload differs from the first attempt in its
//! boundary alone; comparing raw bytes would refuse every honest retry. Every occurrence of
//! `--{boundary}` (the request's own, from its `Content-Type`) is hashed as one fixed marker
//! instead, so two bodies match exactly when they carry the same parts, with the same names,
//! headers and bytes, in the same order. (A valid multipart body never holds its delimiter
//! inside a part, RFC 2046, 5.1.1.) Everything else is compared byte for byte: the order of
//! the parts, their headers, and each part's content (a JSON part re-encrypted under payload
//! encryption differs, so such a client must resend the same ciphertext).
//!
//! The digest runs on the blocking pool ([`vault::cipher::OffThreadDigest`]), as the upload's
//! own digests do, so hashing does not slow the worker that parses the body.

use actix_web::HttpRequest;
use actix_web::http::header;
use memchr::memmem::Finder;
use shared::hex::Sha256;
use vault::cipher::StreamDigest;

/// What each boundary delimiter is hashed as (a NUL cannot appear in a boundary).
const MARKER: &[u8] = b"\0sealpost-boundary\0";

/// The running fingerprint of one body.
pub struct Fingerprint {
    sha: Sha256,
    /// `--{boundary}`, for a multipart body.
    delimiter: Option<Finder<'static>>,
    /// Bytes received but not hashed yet: they may begin a delimiter.
    carry: Vec<u8>,
}

impl Fingerprint {
    /// The fingerprint of `request`'s body (multipart or not, as its `Content-Type` says).
    pub fn of(request: &HttpRequest) -> Self {
        let delimiter = boundary(request)
            .map(|boundary| Finder::new(format!("--{boundary}").as_bytes()).into_owned());
        Self {
            sha: Sha256::new(),
            delimiter,
            carry: Vec::new(),
        }
    }
}

/// The boundary parameter of a `multipart/*` `Content-Type`, if any.
fn boundary(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media: mime::Mime = value.parse().ok()?;
    if media.type_() != mime::MULTIPART {
        return None;
    }
    let boundary = media.get_param(mime::BOUNDARY)?.as_str();
    (!boundary.is_empty()).then(|| boundary.to_owned())
}

impl StreamDigest for Fingerprint {
    type Output = String;

    fn update(&mut self, bytes: &[u8]) {
        let Some(delimiter) = &self.delimiter else {
            self.sha.update(bytes);
            return;
        };
        self.carry.extend_from_slice(bytes);
        let width = delimiter.needle().len();
        let mut hashed = 0;
        for found in delimiter.find_iter(&self.carry) {
            self.sha.update(&self.carry[hashed..found]);
            self.sha.update(MARKER);
            hashed = found + width;
        }
        // The last `width - 1` bytes may be the start of a delimiter the next chunk completes.
        let safe = hashed.max(self.carry.len().saturating_sub(width - 1));
        self.sha.update(&self.carry[hashed..safe]);
        self.carry.drain(..safe);
    }

    fn finish(mut self) -> String {
        self.sha.update(&self.carry);
        self.sha.finish_hex()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::test::TestRequest;

    use super::*;

    fn digest(content_type: &str, chunks: &[&[u8]]) -> String {
        let request = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, content_type))
            .to_http_request();
        let mut fingerprint = Fingerprint::of(&request);
        for chunk in chunks {
            fingerprint.update(chunk);
        }
        fingerprint.finish()
    }

    fn body(boundary: &str, content: &str) -> String {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{content}\r\n--{boundary}--\r\n"
        )
    }

    #[test]
    fn the_same_parts_under_another_boundary_match_however_chunked() {
        let first = body("XyZ123", "hello --Xy");
        let again = body("other-boundary-0000", "hello --Xy");
        let a = digest("multipart/form-data; boundary=XyZ123", &[first.as_bytes()]);
        let bytes = again.as_bytes();
        for split in 0..bytes.len() {
            let b = digest(
                "multipart/form-data; boundary=other-boundary-0000",
                &[&bytes[..split], &bytes[split..]],
            );
            assert_eq!(a, b, "split at {split}");
        }
    }

    #[test]
    fn other_content_or_a_plain_body_differs() {
        let a = digest(
            "multipart/form-data; boundary=B1",
            &[body("B1", "x").as_bytes()],
        );
        let b = digest(
            "multipart/form-data; boundary=B1",
            &[body("B1", "y").as_bytes()],
        );
        assert_ne!(a, b);
        // Not multipart: the bytes as they are.
        let plain = digest("text/plain", &[b"--B1"]);
        assert_eq!(plain, shared::hex::sha256_hex(b"--B1"));
    }
}
