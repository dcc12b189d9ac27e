//! The repository's area traits: each names what one part of the system stores, so a service
//! depends on the narrowest set it needs (the gateway never sees the producers' tables).
//! [`Repository`](super::Repository) is all of them; `crate::sql` implements each once, for
//! both databases, in a file of its own.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::delivery;
use super::{BoxStream, RepoError};
use crate::ids::{DocumentId, ObjectKey, PlaceholderId, ProducerId};
use crate::lockout::{Attempt, AttemptLimits, ChallengeLock, LockPolicy, Refusal, Reservation};
use crate::model::{
    ApiLogRecord, ContentSignature, DocumentRecord, Download, GatewayLogLine, GatewayLogRecord,
    LogKind, LogLine, LoginSession, OAuthPending, ObjectRecord, Producer, PurgedLines,
    VaultLogRecord, ViewerDocument,
};
use crate::tenant::Tenant;

/// Producers and their login sessions (the API server).
#[async_trait]
pub trait ProducerRepo: Send + Sync {
    /// Stores the producer with its public key as its first producer key
    /// ([`super::ProducerKeyRepo`], which logins are checked against). `RepoError::Conflict`
    /// when the name or the public key is already registered.
    async fn insert_producer(&self, producer: &Producer) -> Result<(), RepoError>;
    async fn producer_by_name(&self, name: &str) -> Result<Option<Producer>, RepoError>;
    async fn count_producers(&self) -> Result<i64, RepoError>;
    async fn insert_session(&self, session: &LoginSession) -> Result<(), RepoError>;
    /// The session when it exists, is not revoked and has not expired at `now`.
    async fn active_session(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LoginSession>, RepoError>;
    /// Marks the session revoked; `false` when there was no such active session.
    async fn revoke_session(&self, jti: &str, now: DateTime<Utc>) -> Result<bool, RepoError>;
}

/// The vault's objects: wrapped data keys, content signatures, key rotation, orphans.
#[async_trait]
pub trait ObjectRepo: Send + Sync {
    /// Records a pending object (no size or hash yet) before any byte is written to the store.
    async fn insert_object(&self, object: &ObjectRecord) -> Result<(), RepoError>;
    /// Sets the size and hash once the upload completed, and forgets its multipart upload id.
    async fn finish_object(&self, key: &ObjectKey, size: i64, sha1: &str) -> Result<(), RepoError>;
    /// Records the id of the multipart upload writing a pending object (S3-compatible stores),
    /// so that the orphan sweep can abort it should the uploading vault die.
    async fn record_upload(&self, key: &ObjectKey, upload_id: &str) -> Result<(), RepoError>;
    /// The multipart upload id recorded for `key` while its upload is in flight; `None` once it
    /// finished, for a local store, or when there is no such row.
    async fn object_upload(&self, key: &ObjectKey) -> Result<Option<String>, RepoError>;
    async fn object(&self, key: &ObjectKey) -> Result<Option<ObjectRecord>, RepoError>;
    /// Deletes the object row (and with it the wrapped data key); `false` when absent.
    async fn delete_object(&self, key: &ObjectKey) -> Result<bool, RepoError>;
    /// Records the signature of `key`'s content (replacing any); it goes with the object row.
    async fn sign_object(
        &self,
        key: &ObjectKey,
        signature: &ContentSignature,
    ) -> Result<(), RepoError>;
    /// The signature of `key`'s content, when it was signed (objects stored before migration
    /// 0008 were not).
    async fn object_signature(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<ContentSignature>, RepoError>;
    /// Objects created before `created_before` that no document references.
    async fn orphan_objects(
        &self,
        created_before: DateTime<Utc>,
    ) -> Result<Vec<ObjectKey>, RepoError>;
    /// Whether an object row exists for `key` (used to find blobs that no row names).
    async fn object_exists(&self, key: &ObjectKey) -> Result<bool, RepoError>;
    /// Up to `limit` object rows whose data key is wrapped under a KEK other than `kek_id`,
    /// in key order.
    async fn objects_not_under(
        &self,
        kek_id: &str,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, RepoError>;
    /// Replaces an object's wrapped data key only while it is still wrapped under
    /// `old_kek_id` (compare-and-swap); `false` when the row changed or vanished.
    async fn rewrap_object(
        &self,
        key: &ObjectKey,
        old_kek_id: &str,
        new_kek_id: &str,
        wrapped_dek: &[u8],
    ) -> Result<bool, RepoError>;
    /// How many object rows each KEK id wraps, by id.
    async fn kek_usage(&self) -> Result<Vec<(String, i64)>, RepoError>;
}

/// A producer's documents (the API server), always scoped to their producer, and the producer
/// API's reads to its [`Tenant`] (producer and environment).
#[async_trait]
pub trait DocumentRepo: Send + Sync {
    /// Stores the document in `document.environment` (a test document is also listed in
    /// `test_documents`, for the logs).
    async fn insert_document(&self, document: &DocumentRecord) -> Result<(), RepoError>;
    /// The tenant's document; another producer's id, or one of the producer's other
    /// environment, is `None`, exactly like an unknown one.
    async fn document(
        &self,
        tenant: &Tenant,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError>;
    /// The tenant's `(id, name)` pairs in id order, after `after` when given, at most `limit`.
    async fn list_documents(
        &self,
        tenant: &Tenant,
        after: Option<&DocumentId>,
        limit: u32,
    ) -> Result<Vec<(DocumentId, String)>, RepoError>;
    /// Replaces the stored record with `document` (same producer and id) only while its
    /// `last_modified` still equals `expected_last_modified`: a compare-and-swap, so of two
    /// racing writers exactly one succeeds and the other must re-read. `false` when the record
    /// changed or vanished meanwhile. The object row of a replaced content is left for the
    /// caller to delete once this returned (`true`).
    async fn replace_document(
        &self,
        document: &DocumentRecord,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// As [`delete_document`](DocumentRepo::delete_document), only for the tenant's document
    /// and while `last_modified` still equals `expected_last_modified`; `None` when the record
    /// changed or vanished meanwhile.
    async fn delete_document_if(
        &self,
        tenant: &Tenant,
        id: &DocumentId,
        expected_last_modified: DateTime<Utc>,
    ) -> Result<Option<DocumentRecord>, RepoError>;
    /// Documents whose expiration is at or before `now`, soonest expired first, at most `limit`.
    async fn expired_documents(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(ProducerId, DocumentId)>, RepoError>;
    /// Deletes the document row and its object row (the wrapped data key) in one transaction,
    /// so the content is unrecoverable the moment this returns; the blob is removed afterwards.
    /// Returns the deleted record, `None` when there was no such document for this producer.
    /// Either environment: for the expiry sweep, which deletes what `expired_documents` named.
    async fn delete_document(
        &self,
        producer: &ProducerId,
        id: &DocumentId,
    ) -> Result<Option<DocumentRecord>, RepoError>;
    /// Seals under the current record key every sealed column (audience, challenge,
    /// fulfillment, metadata) that is still plaintext (a row older than encryption) or sealed
    /// under an older key; returns how many values it rewrote. Each value is replaced only if
    /// unchanged since it was read, so a racing write is never undone. Refused by a repository
    /// opened without record keys.
    async fn reseal_records(&self) -> Result<u64, RepoError>;
}

/// Documents as the services acting for viewers see them (gateway and vault act for viewers, not for a producer: they check a signed handle or an audience first).
#[async_trait]
pub trait ViewerRepo: Send + Sync {
    /// Any producer's document by id. Only for services that check a signed handle or an
    /// audience first; the producer API always uses the scoped [`document`](DocumentRepo::document).
    async fn document_by_id(&self, id: &DocumentId) -> Result<Option<DocumentRecord>, RepoError>;
    /// Document `id` with its object row and content signature, in one query (the vault's
    /// handle endpoint); `None` when the document is gone.
    async fn download(&self, id: &DocumentId) -> Result<Option<Download>, RepoError>;
    /// The document whose current placeholder is `placeholder` (any producer), without its
    /// audience: this runs on every viewer request, and an audience can hold 10,000 records.
    async fn viewer_document(
        &self,
        placeholder: &PlaceholderId,
    ) -> Result<Option<ViewerDocument>, RepoError>;
    /// The audience JSON of document `id` and the document's `last_modified`, `None` when the
    /// document is gone.
    async fn document_audience(
        &self,
        id: &DocumentId,
    ) -> Result<Option<(Option<serde_json::Value>, DateTime<Utc>)>, RepoError>;
}

/// The gateway's brute-force state: failures per (document, viewer) pair, per address and per document (the rules are in `crate::lockout`).
#[async_trait]
pub trait LockoutRepo: Send + Sync {
    /// Reserves one guess before anything is compared (issue 14): in one transaction, refuses
    /// it when the pair is locked or the address's or document's window is full (counting
    /// nothing), and otherwise counts it as a failure of the address, the document and the pair
    /// (with [`Self::record_challenge_failure`]'s lock rules), so however many requests race,
    /// at most `failures_per_lock` passwords are compared before a lock, `hard_cap` before
    /// `UntilReset`, and `per_address` / `per_document` per window. The document's windows are
    /// kept with the address windows under the key `document:{id}`.
    async fn reserve_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Reservation, RepoError>;
    /// [`Self::reserve_attempt`] with its transaction held open (issue 20): the count, its
    /// rows' locks (SQLite: the write lock) and the refusal it caused stay pending until the
    /// caller compares the guess and settles it ([`crate::lockout::Held`]): committed for a
    /// wrong guess, rolled back for a right one, so a success writes nothing.
    async fn hold_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<crate::lockout::Hold, RepoError>;
    /// Whether a reservation of `attempt` (without a pair: `attempt.viewer` is ignored) would
    /// be refused now, decided by the same rules as [`Self::reserve_attempt`], writing
    /// nothing (issue 20). For a guess found right before anything was compared (a viewer
    /// token naming a member), ordered after this process's reservations in flight and after
    /// every gateway's: on PostgreSQL under the reservation's row locks (rolled back), on a
    /// SQLite file under its write lock (`BEGIN IMMEDIATE`, read, `ROLLBACK`).
    async fn check_attempt(
        &self,
        attempt: &Attempt<'_>,
        limits: &AttemptLimits,
    ) -> Result<Option<Refusal>, RepoError>;
    /// A granted attempt succeeded: forgets the pair's failures and locks (even `UntilReset`,
    /// which its own reservation may have set) and gives back its count in the address's and
    /// the document's windows (those holding `attempt.now`).
    async fn release_attempt(
        &self,
        attempt: &Attempt<'_>,
        window: chrono::Duration,
    ) -> Result<(), RepoError>;
    /// The producer's reset: forgets every failure and lock of the document's pairs and returns
    /// how many pairs were reset; 0 unless `producer` owns the document.
    async fn reset_challenge_locks(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
    ) -> Result<u64, RepoError>;
    /// The lock state of (document, viewer) at `now` (an expired lock reads as `Open` with the
    /// failures counted since it).
    async fn challenge_lock(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
    ) -> Result<ChallengeLock, RepoError>;
    /// Records one failed challenge for (document, viewer) at `now`, atomically (two gateways
    /// racing are both counted), and returns the state after it. When this failure makes
    /// `failures_per_lock` failures since the last lock, the pair is locked from `now` for
    /// `first_lock * 2^(locks before this one)`, capped at `max_lock`, and the count since the
    /// last lock restarts at 0; when the total since the last success or reset reaches
    /// `hard_cap` the pair is `UntilReset`. A failure recorded while the pair is locked (two
    /// gateways raced past the lock check) counts like any other.
    async fn record_challenge_failure(
        &self,
        document: &DocumentId,
        viewer: &str,
        now: DateTime<Utc>,
        policy: &LockPolicy,
    ) -> Result<ChallengeLock, RepoError>;
    /// A successful challenge: forgets the pair's failures and locks, unless it is
    /// `UntilReset` (then nothing changes; only the producer's reset opens it).
    async fn clear_challenge_failures(
        &self,
        document: &DocumentId,
        viewer: &str,
    ) -> Result<(), RepoError>;
    /// Counts one failed challenge from client address `address` in the fixed window of length
    /// `window` (aligned to the Unix epoch; less than 1 ms counts as 1 ms) holding `now`, and
    /// returns the count in that window including this one. May prune windows older than the
    /// previous one.
    async fn record_address_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError>;
    /// The failures counted for `address` in the window holding `now`.
    async fn address_failures(
        &self,
        address: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<u32, RepoError>;
}

/// The gateway's pending OAuth / OpenID sign-ins.
#[async_trait]
pub trait OAuthRepo: Send + Sync {
    /// Stores a pending sign-in, and deletes pending sign-ins that expired before `now`.
    async fn insert_oauth_pending(
        &self,
        pending: &OAuthPending,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// Deletes and returns the pending sign-in with this state hash, atomically (of two callbacks
    /// racing with the same state exactly one gets it). An expired one is deleted and `None`.
    async fn take_oauth_pending(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OAuthPending>, RepoError>;
}

/// The three audit logs (API, gateway, vault): chained appends, reads, export, retention.
#[async_trait]
pub trait LogRepo: Send + Sync {
    /// Appends the records in one transaction (the vault writes its log in batches), each
    /// chained to its producer's previous vault line (see [`crate::audit`]).
    async fn append_vault_log(&self, records: &[VaultLogRecord]) -> Result<(), RepoError>;
    /// A producer's vault-log records with `from <= time <= to`, optionally for one document,
    /// in write order.
    async fn vault_log(
        &self,
        producer: &ProducerId,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VaultLogRecord>, RepoError>;
    /// Appends the records in one transaction, giving each record naming a document the next
    /// hit-number of that document in the gateway log (1, 2, 3, … per document, in the order of
    /// `records`), gap-free even when several gateways write concurrently: a per-document
    /// counter is advanced in the same transaction, so a rolled-back batch takes its numbers
    /// with it. Returns the hit numbers assigned, one per record (`None` for records without
    /// a document). Deleting a document keeps its lines and its counter. Each line is chained
    /// to its producer's previous gateway line (see [`crate::audit`]).
    async fn append_gateway_log(
        &self,
        records: &[GatewayLogRecord],
    ) -> Result<Vec<Option<i64>>, RepoError>;
    /// [`append_gateway_log`](LogRepo::append_gateway_log), writing `views[i]` (the audience
    /// record `records[i]` matched, when it matched one) to `gateway_views` in the same
    /// transaction, under the line's hit-number (migration 0019, [`crate::views`]).
    async fn append_gateway_log_viewed(
        &self,
        records: &[GatewayLogRecord],
        views: &[Option<crate::views::GatewayView>],
    ) -> Result<Vec<Option<i64>>, RepoError>;
    /// The auditor's report of `document`, grouped by audience record (the caller checked
    /// that the document is the caller's).
    async fn view_report(
        &self,
        document: &DocumentId,
    ) -> Result<crate::views::ViewReport, RepoError>;
    /// Every request and download of one audience record, for its receipt.
    async fn record_history(
        &self,
        of: crate::views::RecordOf<'_>,
    ) -> Result<crate::views::RecordHistory, RepoError>;
    /// Gateway log lines with `from <= time <= to`, in write order; scoped to `producer` when
    /// given (`None` = every line, for operators and tests), optionally to one document.
    async fn gateway_log(
        &self,
        producer: Option<&ProducerId>,
        document: Option<&DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<GatewayLogLine>, RepoError>;
    /// Appends API-log records in one transaction, exactly as
    /// [`append_gateway_log`](LogRepo::append_gateway_log) does for the gateway log: hit numbers
    /// count a document's records in the API log from 1 (gap-free, its own counter), the stored
    /// line is `head` + hit-number + publisher-id + `tail` (ten columns), and each line is chained
    /// to its producer's previous API line. Returns the hit numbers, one per record.
    async fn append_api_log(&self, records: &[ApiLogRecord])
    -> Result<Vec<Option<i64>>, RepoError>;
    /// The tenant's records of one log with `from <= time <= to`, optionally for one document,
    /// in write (seq) order, streamed from the database (constant memory however many lines;
    /// the stream holds one database connection until it is dropped). `fields` is the full
    /// stored line; `prev`/`chain` are its hash-chain values. Lines of the producer outside the
    /// range (or of other documents, or of the other environment) are skipped, so consecutive
    /// exported lines link (`prev` = the previous line's `chain`) only where no skipped line
    /// lies between them. A test line names a test document (deleted ones included: see
    /// `test_documents`, migration 0015); every other line of the producer, those naming no
    /// document included, is a live line.
    fn export_log<'a>(
        &'a self,
        kind: LogKind,
        tenant: &'a Tenant,
        document: Option<&'a DocumentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxStream<'a, Result<LogLine, RepoError>>;
    /// Retention: deletes the log's lines with `time < before` (every producer's), in short
    /// transactions, and returns how many, per producer. Documents and hit counters are untouched, and so are
    /// the chain heads: later lines keep chaining from the right head, and an export's first
    /// line's `prev` may then be the chain value of a purged line.
    async fn purge_log_before(
        &self,
        kind: LogKind,
        before: DateTime<Utc>,
    ) -> Result<PurgedLines, RepoError>;
}

/// Deliveries and their jobs (migration 0007; types in [`delivery`](super::delivery)).
#[async_trait]
pub trait DeliveryRepo: Send + Sync {
    /// Stores a delivery and its jobs in one transaction, every job queued and due at
    /// `delivery.created_at`. `RepoError::Conflict` when the id is taken.
    async fn insert_delivery(
        &self,
        delivery: &delivery::NewDelivery,
        recipients: &[delivery::NewRecipient],
    ) -> Result<(), RepoError>;
    /// The producer's delivery `id` of document `document` with every job's status in
    /// recipient order; `None` for an unknown one or another producer's.
    async fn delivery(
        &self,
        producer: &ProducerId,
        document: &DocumentId,
        id: &DocumentId,
    ) -> Result<Option<delivery::DeliveryStatus>, RepoError>;
    /// Claims up to `limit` queued jobs due at `now` (soonest first): each gets one more
    /// attempt and is leased until `lease_until` (due again then, should its worker die).
    /// Jobs claimed by a concurrent caller are skipped, never returned twice while leased.
    async fn claim_delivery_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<delivery::ClaimedJob>, RepoError>;
    /// Keeps the message a test delivery's job would have sent (sealed by the caller; shown in
    /// the delivery's status), replacing an earlier attempt's. Wiped with the job's viewer data
    /// when the document is deleted.
    async fn capture_delivery_job(
        &self,
        delivery: &DocumentId,
        seq: i64,
        captured: &[u8],
    ) -> Result<(), RepoError>;
    /// Records the outcomes of claimed jobs' attempts in one transaction (workers batch them,
    /// as the audit logs do), each only while its job is still queued: `false` at its place
    /// otherwise. The transaction that finishes a delivery's last queued job also wipes the
    /// delivery's secrets.
    async fn finish_delivery_jobs(
        &self,
        finished: &[delivery::FinishedJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, RepoError>;
}
