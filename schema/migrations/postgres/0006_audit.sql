-- The API log, and hash chains over all three audit logs, PostgreSQL dialect. Keep in step
-- with ../sqlite/0006_audit.sql, which explains each table.

CREATE TABLE api_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    producer_id  TEXT COLLATE "C",
    document_id  TEXT COLLATE "C",
    time         BIGINT NOT NULL,
    hit          BIGINT,
    fields       TEXT   NOT NULL,
    prev         TEXT   NOT NULL,
    chain        TEXT   NOT NULL
);

CREATE INDEX api_log_scope ON api_log (producer_id, time);

-- No foreign key: a deleted document keeps its counter.
CREATE TABLE api_hits (
    document_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    hits         BIGINT NOT NULL
);

-- Nullable for ADD COLUMN only; the repository chains the existing rows right after this
-- migration (`log_backfill`) and always writes both columns.
ALTER TABLE gateway_log ADD COLUMN prev TEXT, ADD COLUMN chain TEXT;
ALTER TABLE vault_log ADD COLUMN prev TEXT, ADD COLUMN chain TEXT;

CREATE TABLE log_heads (
    log       TEXT COLLATE "C" NOT NULL,
    producer  TEXT COLLATE "C" NOT NULL,
    head      TEXT   NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (log, producer)
);

CREATE TABLE log_backfill (
    log  TEXT COLLATE "C" NOT NULL PRIMARY KEY
);

INSERT INTO log_backfill (log) VALUES ('gateway'), ('vault');
