-- Vault access log and key rotation support, PostgreSQL dialect. Keep in step with
-- ../sqlite/0002_vault.sql.

CREATE TABLE vault_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    producer_id  TEXT COLLATE "C",
    document_id  TEXT COLLATE "C",
    time         BIGINT NOT NULL,
    fields       TEXT   NOT NULL
);

CREATE INDEX vault_log_scope ON vault_log (producer_id, time);

CREATE INDEX objects_kek_id ON objects (kek_id, key);
