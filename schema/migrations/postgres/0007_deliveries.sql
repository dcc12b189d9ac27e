-- Deliveries and their per-recipient jobs, PostgreSQL dialect. Keep in step with
-- ../sqlite/0007_deliveries.sql, which explains the tables. Workers of several API servers
-- claim jobs with `FOR UPDATE SKIP LOCKED`, so no job is claimed twice at once.
CREATE TABLE deliveries (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    producer_id  TEXT COLLATE "C" NOT NULL,
    document_id  TEXT COLLATE "C" NOT NULL,
    operator     TEXT,
    fulfillment  TEXT   NOT NULL,
    remaining    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    secrets      BYTEA
);

CREATE INDEX deliveries_document ON deliveries (producer_id, document_id);

CREATE TABLE delivery_jobs (
    delivery_id      TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    record           BIGINT,
    idempotency_key  TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    viewer           TEXT   NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);

CREATE INDEX delivery_jobs_due ON delivery_jobs (next_attempt_at) WHERE status = 'queued';
