-- Vault access log and key rotation support, SQLite dialect. Keep in step with
-- ../postgres/0002_vault.sql.

-- One row per vault request. `fields` holds DESIGN.md's 14 tab-separated columns exactly as
-- they are served; `producer_id`, `document_id` and `time` are copies used to scope and order
-- an export (NULL for requests that named no valid document). Rows are never updated; deleting
-- a document leaves its history here.
CREATE TABLE vault_log (
    seq          INTEGER NOT NULL PRIMARY KEY,
    producer_id  TEXT,
    document_id  TEXT,
    time         INTEGER NOT NULL,
    fields       TEXT    NOT NULL
) STRICT;

CREATE INDEX vault_log_scope ON vault_log (producer_id, time);

-- Key rotation walks the objects not yet under the current key-encryption key.
CREATE INDEX objects_kek_id ON objects (kek_id, key);
