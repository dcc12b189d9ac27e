-- The viewer-facing gateway: its access log, hit counters and brute-force limits, PostgreSQL
-- dialect. Keep in step with ../sqlite/0003_gateway.sql, which explains each table.

CREATE TABLE gateway_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    producer_id  TEXT COLLATE "C",
    document_id  TEXT COLLATE "C",
    time         BIGINT NOT NULL,
    hit          BIGINT,
    fields       TEXT   NOT NULL
);

CREATE INDEX gateway_log_scope ON gateway_log (producer_id, time);

-- No foreign key: a deleted document keeps its counter.
CREATE TABLE gateway_hits (
    document_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    hits         BIGINT NOT NULL
);

-- No foreign key: the rows of a deleted document stay behind.
CREATE TABLE challenge_failures (
    document_id   TEXT COLLATE "C" NOT NULL,
    viewer        TEXT COLLATE "C" NOT NULL,
    failures      BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    locks         BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    until_reset   BIGINT NOT NULL DEFAULT 0 CHECK (until_reset IN (0, 1)),
    PRIMARY KEY (document_id, viewer)
);

CREATE TABLE address_failures (
    address       TEXT COLLATE "C" NOT NULL,
    window_start  BIGINT NOT NULL,
    failures      BIGINT NOT NULL,
    PRIMARY KEY (address, window_start)
);

CREATE INDEX address_failures_window ON address_failures (window_start);
