//! One access-log record: DESIGN.md's 14 vault columns, typed until the moment they become a
//! line.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use schema::{DocumentId, ObjectKey, ProducerId, VaultLogRecord};

/// What one request to the vault did. Every value is already safe to keep: the request URI has
/// its handle redacted by the caller, and nothing here is a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// The document the handle named. Only from a handle whose signature verified (expired ones
    /// included): a forged handle names nothing worth recording.
    pub document_id: Option<DocumentId>,
    /// The document's producer, known when the document exists; scopes the row for export.
    pub producer_id: Option<ProducerId>,
    /// When the request arrived.
    pub time: DateTime<Utc>,
    pub remote_ip: Option<IpAddr>,
    /// S3 style: `REST.GET.OBJECT`, `REST.HEAD.OBJECT`, `REST.<METHOD>.UNKNOWN`.
    pub operation: String,
    /// The stored object's key: a random name that says nothing about the document.
    pub key: Option<ObjectKey>,
    /// S3 style, quotes included: `"GET /h/<redacted:NONCE> HTTP/1.1"`.
    pub request_uri: String,
    pub protocol: String,
    pub status: u16,
    /// S3-style short name (`NoSuchHandle`, `InvalidRange`, …); `None` for success.
    pub error_code: Option<&'static str>,
    /// Body bytes actually handed to the connection (short when a download broke off).
    pub bytes_sent: u64,
    /// Plaintext size of the whole document, when known.
    pub object_size: Option<u64>,
    /// From arrival to the last body byte (or to the moment the body was dropped).
    pub total_time_ms: u64,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
}

impl AccessRecord {
    /// The 14 tab-separated columns, each escaped, `-` for an absent or empty value.
    pub fn line(&self) -> String {
        let time = self.time.to_rfc3339_opts(SecondsFormat::Millis, true);
        let columns: [Option<Cow<'_, str>>; 14] = [
            self.document_id.as_ref().map(|id| id.as_str().into()),
            Some(time.into()),
            self.remote_ip.map(|ip| ip.to_string().into()),
            Some(self.operation.as_str().into()),
            self.key.as_ref().map(|key| key.as_str().into()),
            Some(self.request_uri.as_str().into()),
            Some(self.protocol.as_str().into()),
            Some(self.status.to_string().into()),
            self.error_code.map(Cow::from),
            Some(self.bytes_sent.to_string().into()),
            self.object_size.map(|size| size.to_string().into()),
            Some(self.total_time_ms.to_string().into()),
            self.referer.as_deref().map(Cow::from),
            self.user_agent.as_deref().map(Cow::from),
        ];
        shared::logline::join_columns(&columns)
    }

    /// The stored row. It is scoped to a producer and document only when the document exists,
    /// so a producer's export never holds records about documents that are not theirs.
    pub fn into_row(self) -> VaultLogRecord {
        let fields = self.line();
        let (producer_id, document_id) = match self.producer_id {
            Some(producer) => (Some(producer), self.document_id),
            None => (None, None),
        };
        VaultLogRecord {
            producer_id,
            document_id,
            time: self.time,
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AccessRecord {
        AccessRecord {
            document_id: None,
            producer_id: None,
            time: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            remote_ip: Some("127.0.0.1".parse().unwrap()),
            operation: "REST.GET.OBJECT".into(),
            key: None,
            request_uri: "\"GET /h/<redacted> HTTP/1.1\"".into(),
            protocol: "HTTP/1.1".into(),
            status: 404,
            error_code: Some("NoSuchHandle"),
            bytes_sent: 97,
            object_size: None,
            total_time_ms: 3,
            referer: Some(String::new()),
            user_agent: Some("curl/8\tx\\y\nz\u{7}".into()),
        }
    }

    #[test]
    fn fourteen_columns_with_dashes_and_escapes() {
        let line = record().line();
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 14, "{line}");
        assert_eq!(
            columns,
            [
                "-",
                "2023-11-14T22:13:20.123Z",
                "127.0.0.1",
                "REST.GET.OBJECT",
                "-",
                "\"GET /h/<redacted> HTTP/1.1\"",
                "HTTP/1.1",
                "404",
                "NoSuchHandle",
                "97",
                "-",
                "3",
                "-",
                "curl/8\\tx\\\\y\\nz\\x07",
            ]
        );
    }

    #[test]
    fn rows_are_scoped_only_to_existing_documents() {
        let document = DocumentId::random();
        let unscoped = AccessRecord {
            document_id: Some(document.clone()),
            ..record()
        }
        .into_row();
        assert_eq!((unscoped.producer_id, unscoped.document_id), (None, None));
        assert!(unscoped.fields.starts_with(document.as_str()));

        let producer = ProducerId::random();
        let scoped = AccessRecord {
            document_id: Some(document.clone()),
            producer_id: Some(producer.clone()),
            ..record()
        }
        .into_row();
        assert_eq!(
            (scoped.producer_id, scoped.document_id),
            (Some(producer), Some(document))
        );
    }
}
