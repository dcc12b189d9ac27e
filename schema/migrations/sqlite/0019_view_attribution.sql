-- Viewer attribution (issue 22, item 1), SQLite dialect. Keep in step with
-- ../postgres/0019_view_attribution.sql.
--
-- `gateway_views`: one row per gateway document request that matched a record of a `records`
-- audience, written in the transaction that writes the request's `gateway_log` line (the log
-- itself keeps the spec's nine columns). `hit` is that line's hit-number, so (document_id,
-- hit) names the line; `record` is the record's index in the audience (0-based, as
-- `delivery_jobs.record`); `outcome` is 'opened' (no challenge decided: no challenge, asked
-- for credentials, sent to the OAuth provider, locked), 'passed' or 'failed' (the challenge);
-- `nonce` the handle the request issued (base64url, as the logs show it), `address` the
-- client address of the remote-IP column. The primary key is the report's scan order: one
-- document's rows grouped by record with no lookup into another b-tree.
CREATE TABLE gateway_views (
    document_id  TEXT    NOT NULL,
    record       INTEGER NOT NULL,
    hit          INTEGER NOT NULL,
    time         INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('opened', 'passed', 'failed')),
    nonce        TEXT,
    address      TEXT,
    PRIMARY KEY (document_id, record, hit)
) STRICT, WITHOUT ROWID;

-- How the vault's records find their audience record: one probe per download.
CREATE UNIQUE INDEX gateway_views_nonce ON gateway_views (nonce) WHERE nonce IS NOT NULL;

-- `vault_downloads`: one row per vault GET through a handle a `gateway_views` row issued that
-- sent content (200 or 206), written in the transaction that writes its `vault_log` line,
-- with the record found through the nonce (the handle was issued, and its row committed,
-- before any download could start). `complete`: status 200 and every byte of the object sent.
CREATE TABLE vault_downloads (
    seq          INTEGER NOT NULL PRIMARY KEY,
    document_id  TEXT    NOT NULL,
    record       INTEGER NOT NULL,
    nonce        TEXT    NOT NULL,
    time         INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    bytes_sent   INTEGER NOT NULL,
    object_size  INTEGER,
    complete     INTEGER NOT NULL
) STRICT;

-- Covering: the report groups one document's downloads by record from this index alone.
CREATE INDEX vault_downloads_record
    ON vault_downloads (document_id, record, complete, bytes_sent, time);
