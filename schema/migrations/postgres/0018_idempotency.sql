-- Idempotency keys of the producer API (issue 21, item 4), postgres dialect. Keep in step with the
-- other dialect's 0018_idempotency.sql.
--
-- One row per (producer, environment, key) an `Idempotency-Key` request reserved. The primary
-- key makes the insert the reservation: of two concurrent requests with one key, exactly one
-- inserts and does the work; the other sees the row. While the work runs `status` is NULL and
-- `touched_at` (milliseconds) is refreshed every minute, so a reservation whose process died
-- is taken over once it goes stale. Done, the row keeps the answer to replay: `status`, the
-- headers that matter (a JSON array of [name, value]) and the body (sealed with the record
-- keys: a delivery's status names recipients), with the method, path and SHA-256 of the body
-- the request sent. `expires_at` (24 hours after the answer) is when the key is forgotten.
CREATE TABLE idempotency_keys (
    producer_id  TEXT  NOT NULL,
    environment  TEXT  NOT NULL CHECK (environment IN ('live', 'test')),
    idem_key     TEXT  NOT NULL,
    method       TEXT  NOT NULL,
    path         TEXT  NOT NULL,
    touched_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    status       BIGINT,
    body_sha256  TEXT,
    headers      TEXT,
    body         BYTEA,
    PRIMARY KEY (producer_id, environment, idem_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
