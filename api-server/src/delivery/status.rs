//! A delivery's JSON, for `GET /documents/{docId}/deliveries/{id}` and the 202 answer.

use schema::repo::delivery::{DeliveryStatus, JobStatus, RecipientStatus};
use serde_json::{Value, json};

use crate::representation::rfc3339;

/// `{"id", "document", "created", "state": "in progress" | "done", "counts": {"queued",
/// "sent", "failed"}, "recipients": [{"recipient", "record", "status", "attempts", "error",
/// "nextAttempt", "updated", "captured"}, …]}`; members without a value are left out.
/// `captured` holds each recipient's captured message (a test delivery's, see
/// [`super::capture`]), in recipient order; a captured job's status is `sent`, as the live one's
/// would be once the receiver accepted it.
pub fn to_json(status: &DeliveryStatus, self_href: &str, captured: &[Option<Value>]) -> Value {
    let count = |wanted: JobStatus| {
        status
            .recipients
            .iter()
            .filter(|recipient| recipient.status == wanted)
            .count()
    };
    let queued = count(JobStatus::Queued);
    let recipients: Vec<Value> = status
        .recipients
        .iter()
        .zip(captured.iter().chain(std::iter::repeat(&None)))
        .map(|(recipient, captured)| recipient_json(recipient, captured.as_ref()))
        .collect();
    json!({
        "id": status.id.as_str(),
        "document": status.document_id.as_str(),
        "created": rfc3339(status.created_at),
        "state": if queued == 0 { "done" } else { "in progress" },
        "counts": {
            "queued": queued,
            "sent": count(JobStatus::Sent),
            "failed": count(JobStatus::Failed),
        },
        "links": {"self": self_href},
        "recipients": recipients,
    })
}

/// One recipient's member of `"recipients"`.
fn recipient_json(recipient: &RecipientStatus, captured: Option<&Value>) -> Value {
    let mut item = json!({
        "recipient": recipient.seq,
        "status": recipient.status.as_str(),
        "attempts": recipient.attempts,
        "updated": rfc3339(recipient.updated_at),
    });
    if let Some(record) = recipient.record {
        item["record"] = json!(record);
    }
    if let Some(error) = &recipient.last_error {
        item["error"] = json!(error);
    }
    if let Some(next) = recipient.next_attempt_at {
        item["nextAttempt"] = json!(rfc3339(next));
    }
    if let Some(captured) = captured {
        item["captured"] = captured.clone();
    }
    item
}
