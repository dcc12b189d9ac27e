-- Deliveries (`POST /documents/{docId}/deliver`) and their per-recipient jobs, SQLite dialect.
-- Keep in step with ../postgres/0007_deliveries.sql.

-- One row per deliver request. `fulfillment` is the document's fulfillment object as it stood
-- when the delivery was queued (a later update of the document does not change a delivery under
-- way). `secrets` is the deliver request's form fields and SMTP URL, sealed with AES-256-GCM
-- under a key only the API servers derive (they carry the fulfillment's credentials, which the
-- spec forbids storing in the document record); it is set to NULL in the same transaction that
-- finishes the last job, and `secure_delete` overwrites the freed bytes. `remaining` counts
-- the jobs still queued, so that wipe needs no scan and two workers finishing the last two
-- jobs at once cannot both miss it. No foreign key to documents: a delivery's status outlives
-- the document, and a job whose document is gone fails with that reason.
CREATE TABLE deliveries (
    id           TEXT    NOT NULL PRIMARY KEY,
    producer_id  TEXT    NOT NULL,
    document_id  TEXT    NOT NULL,
    operator     TEXT,
    fulfillment  TEXT    NOT NULL,
    remaining    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    secrets      BLOB
) STRICT;

CREATE INDEX deliveries_document ON deliveries (producer_id, document_id);

-- One row per recipient. `viewer` is the JSON `{"fields": {…}, "token": [[name, value], …]}`:
-- the audience record's values the templates are filled from and the viewer-token fields its
-- sealed link holds (the link itself is sealed at each attempt, never stored). A worker claims
-- a job by moving `next_attempt_at` to the end of a lease: a worker that dies mid-attempt
-- leaves the job queued, due again when the lease runs out. `idempotency_key` is the same for
-- every attempt of a job, so a receiver that honours it serves a retried job once.
CREATE TABLE delivery_jobs (
    delivery_id      TEXT    NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    record           INTEGER,
    idempotency_key  TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    viewer           TEXT    NOT NULL,
    PRIMARY KEY (delivery_id, seq)
) STRICT;

CREATE INDEX delivery_jobs_due ON delivery_jobs (next_attempt_at) WHERE status = 'queued';
