//! How one attempt at one recipient ended, as the senders report it: the status the receiver
//! answered (HTTP status or SMTP reply code, for the API log) and, on failure, whether another
//! attempt could succeed. Reasons are shown to the producer and logged: they never hold a
//! template's values, a sealed link or a credential.

/// Sent; the receiver's status when it gave one.
pub type Attempt = Result<Option<u16>, Failure>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub status: Option<u16>,
    /// A network error, a timeout, a 5xx answer (or an SMTP 4xx): retried with backoff.
    /// Anything else (a 4xx answer, an XML-RPC fault, a template that cannot be filled) is final.
    pub transient: bool,
}

impl Failure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            status: None,
            transient: false,
        }
    }

    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            status: None,
            transient: true,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

/// The outcome of an HTTP answer's status: 2xx sent; 5xx, 408 and 429 worth retrying; other
/// statuses (4xx, and 3xx since redirects are not followed) final.
pub fn http_status(status: u16) -> Attempt {
    match status {
        200..=299 => Ok(Some(status)),
        408 | 429 | 500..=599 => Err(Failure::transient(format!(
            "the receiver answered HTTP {status}"
        ))
        .with_status(status)),
        _ => Err(
            Failure::permanent(format!("the receiver answered HTTP {status}")).with_status(status),
        ),
    }
}

/// A request the egress policy refused: final, and nothing about the target.
pub fn refused() -> Failure {
    Failure::permanent(shared::egress::REFUSED)
}

/// A reqwest error without its URL (the URL may hold a record's values).
pub fn network(error: reqwest::Error) -> Failure {
    if shared::egress::is_refusal(&error) {
        return refused();
    }
    let what = if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "the receiver could not be reached"
    } else {
        "the exchange with the receiver failed"
    };
    Failure::transient(what)
}
