-- Digest nonce counters used (issue 19, item 2), sqlite dialect. Keep in step with the other
-- dialect's 0017_digest_nonce_uses.sql.
--
-- One row per (nonce, nc) a gateway accepted: the primary key makes the insert the replay
-- check, so a counter replayed to any gateway sharing the database is refused. The nonce is
-- stored as the first 16 bytes of its SHA-256 (it is not secret; this keeps rows small).
-- `used_at` (milliseconds) lets gateways delete rows whose nonce is stale anyway.
CREATE TABLE digest_nonce_uses (
    nonce_hash  BLOB  NOT NULL,
    nc          INTEGER  NOT NULL,
    used_at     INTEGER  NOT NULL,
    PRIMARY KEY (nonce_hash, nc)
) STRICT, WITHOUT ROWID;
CREATE INDEX digest_nonce_uses_used_at ON digest_nonce_uses (used_at);
