-- The API log, and hash chains over all three audit logs, SQLite dialect. Keep in step with
-- ../postgres/0006_audit.sql.

-- One row per API request, like `gateway_log`: `fields` holds DESIGN.md's ten tab-separated
-- API columns exactly as they are served (hit-number and publisher-id added by the
-- repository); `producer_id`, `document_id`, `time` and `hit` are copies used to scope and
-- order an export. Rows are never updated; deleting a document leaves its history here.
CREATE TABLE api_log (
    seq          INTEGER NOT NULL PRIMARY KEY,
    producer_id  TEXT,
    document_id  TEXT,
    time         INTEGER NOT NULL,
    hit          INTEGER,
    fields       TEXT    NOT NULL,
    prev         TEXT    NOT NULL,
    chain        TEXT    NOT NULL
) STRICT;

CREATE INDEX api_log_scope ON api_log (producer_id, time);

-- The last hit-number given to each document's API requests (as `gateway_hits` for the
-- gateway log): advanced in the transaction that writes the lines, so the numbers are gap-free
-- and never repeat. No foreign key: a deleted document keeps its counter.
CREATE TABLE api_hits (
    document_id  TEXT    NOT NULL PRIMARY KEY,
    hits         INTEGER NOT NULL
) STRICT;

-- Hash chains: every line carries `prev` and `chain` = hex(SHA-256(prev || "\n" || fields))
-- (schema::audit), chained per (log, producer). The columns are nullable on the two older
-- logs only because ADD COLUMN needs it: the repository always writes them, and the rows
-- written before this migration are chained by the repository right after it (`log_backfill`).
ALTER TABLE gateway_log ADD COLUMN prev TEXT;
ALTER TABLE gateway_log ADD COLUMN chain TEXT;
ALTER TABLE vault_log ADD COLUMN prev TEXT;
ALTER TABLE vault_log ADD COLUMN chain TEXT;

-- The head of each chain: `log` is 'api', 'gateway' or 'vault'; `producer` the producer id,
-- '' for the lines without a producer; `head` the chain value of the chain's last line (64
-- zeros before the first) and `count` how many lines it has had. Appends lock the heads they
-- advance until their commit, so concurrent writers of one chain queue up instead of forking
-- it. Purging old lines leaves the heads alone.
CREATE TABLE log_heads (
    log       TEXT    NOT NULL,
    producer  TEXT    NOT NULL,
    head      TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (log, producer)
) STRICT;

-- Logs whose existing rows still need chaining. SQL has no SHA-256 here, so the repository
-- does it, in Rust, in the transaction that applies this migration, and deletes the row.
CREATE TABLE log_backfill (
    log  TEXT NOT NULL PRIMARY KEY
) STRICT;

INSERT INTO log_backfill (log) VALUES ('gateway'), ('vault');
