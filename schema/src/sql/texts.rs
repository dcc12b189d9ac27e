//! The few statements whose text depends on the dialect (a row lock, a claim that skips
//! locked rows, byte-order comparison, a cheap "has an audience"), composed once per process
//! from the dialect's fragments ([`Dialect::texts`]). Every other statement is a constant.

use super::Dialect;
use crate::gateway_codec::viewer_document_columns;

pub struct Texts {
    /// The logs whose pre-0006 rows still need chaining (locked on PostgreSQL).
    pub backfill_pending: String,
    /// A log's chain heads (locked on PostgreSQL), `$1` = the log's name.
    pub heads_of_log: String,
    /// The gateway's view of a document by placeholder, `$1`.
    pub viewer_document: String,
    /// Claims due delivery jobs: `$1` lease end, `$2` now, `$3` limit.
    pub claim_jobs: String,
    /// A page of documents holding a value not sealed under the current key: `$1` the last
    /// id of the previous page, `$2` the length of `$3`, the current key's prefix.
    pub reseal_page: String,
}

impl Texts {
    pub fn new<D: Dialect>() -> Self {
        let (lock, skip, bytes) = (D::FOR_UPDATE, D::SKIP_LOCKED, D::BYTE_ORDER);
        Self {
            backfill_pending: format!("SELECT log FROM log_backfill ORDER BY log{lock}"),
            heads_of_log: format!(
                "SELECT producer, head, count FROM log_heads WHERE log = $1{lock}"
            ),
            viewer_document: format!(
                "SELECT {}, {} AS has_audience FROM documents WHERE placeholder_id = $1",
                viewer_document_columns!(),
                D::HAS_AUDIENCE
            ),
            claim_jobs: format!(
                "UPDATE delivery_jobs SET next_attempt_at = $1, attempts = attempts + 1, \
                 updated_at = $2 WHERE (delivery_id, seq) IN (SELECT delivery_id, seq \
                 FROM delivery_jobs WHERE status = 'queued' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, delivery_id, seq LIMIT $3{skip}) \
                 RETURNING delivery_id, seq, record, idempotency_key, attempts, viewer"
            ),
            reseal_page: format!(
                "SELECT id, audience, challenge, fulfillment, metadata FROM documents \
                 WHERE id{bytes} > $1 AND ( \
                   (audience IS NOT NULL AND substr(audience, 1, CAST($2 AS INTEGER)) <> $3) \
                   OR (challenge IS NOT NULL AND substr(challenge, 1, CAST($2 AS INTEGER)) <> $3) \
                   OR (fulfillment IS NOT NULL \
                       AND substr(fulfillment, 1, CAST($2 AS INTEGER)) <> $3) \
                   OR (metadata IS NOT NULL AND substr(metadata, 1, CAST($2 AS INTEGER)) <> $3)) \
                 ORDER BY id{bytes} LIMIT 100"
            ),
        }
    }
}
