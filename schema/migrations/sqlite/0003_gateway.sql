-- The viewer-facing gateway: its access log, hit counters and brute-force limits, SQLite
-- dialect. Keep in step with ../postgres/0003_gateway.sql.

-- One row per gateway request. `fields` holds DESIGN.md's nine tab-separated gateway columns
-- exactly as they are served (the last two, hit-number and publisher-id, added by the
-- repository); `producer_id`, `document_id`, `time` and `hit` are copies used to scope and
-- order an export (NULL for requests that named no valid document). Rows are never updated;
-- deleting a document leaves its history here.
CREATE TABLE gateway_log (
    seq          INTEGER NOT NULL PRIMARY KEY,
    producer_id  TEXT,
    document_id  TEXT,
    time         INTEGER NOT NULL,
    hit          INTEGER,
    fields       TEXT    NOT NULL
) STRICT;

CREATE INDEX gateway_log_scope ON gateway_log (producer_id, time);

-- The last hit-number given to each document's gateway requests. Advanced in the transaction
-- that writes the lines, so the numbers are gap-free and never repeat. No foreign key: a
-- deleted document keeps its counter, so a late request naming it does not restart at 1.
CREATE TABLE gateway_hits (
    document_id  TEXT    NOT NULL PRIMARY KEY,
    hits         INTEGER NOT NULL
) STRICT;

-- Failed challenges per (document, viewer). `failures` counts since the last lock or success,
-- `total` since the last success or producer reset, `locks` the locks since then;
-- `until_reset` (0/1) is set once `total` reaches the hard cap. No row = never failed (a
-- success deletes the row). No foreign key: the rows of a deleted document stay behind
-- (a few small rows under an id that is never reused, so they can match nothing), which keeps
-- a failure racing a deletion from failing on a constraint.
CREATE TABLE challenge_failures (
    document_id   TEXT    NOT NULL,
    viewer        TEXT    NOT NULL,
    failures      INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    locks         INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    until_reset   INTEGER NOT NULL DEFAULT 0 CHECK (until_reset IN (0, 1)),
    PRIMARY KEY (document_id, viewer)
) STRICT;

-- Failed challenges per client address in fixed windows aligned to the Unix epoch
-- (`window_start` in milliseconds). Old windows are pruned through the second index.
CREATE TABLE address_failures (
    address       TEXT    NOT NULL,
    window_start  INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    PRIMARY KEY (address, window_start)
) STRICT;

CREATE INDEX address_failures_window ON address_failures (window_start);
