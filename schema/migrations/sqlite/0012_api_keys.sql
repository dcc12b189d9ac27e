-- API keys (issue 16, item 1), SQLite dialect. Keep in step with ../postgres/0012_api_keys.sql.
--
-- A key is `sp_{environment}_{id}_{secret}`; only an argon2id hash of the whole key string is
-- kept (`secret_hash`, a PHC string), never the key. Names are unique among a producer's
-- unrevoked keys, so a revoked name may be reused; a revoked key stays listed with `revoked_at`.
-- `scopes` is the stored form of `schema::credentials::Scopes` ("read write …").
CREATE TABLE api_keys (
    id            TEXT    NOT NULL PRIMARY KEY,
    producer_id   TEXT    NOT NULL REFERENCES producers (id),
    name          TEXT    NOT NULL,
    environment   TEXT    NOT NULL CHECK (environment IN ('live', 'test')),
    scopes        TEXT    NOT NULL,
    secret_hash   TEXT    NOT NULL,
    encryption    INTEGER NOT NULL DEFAULT 0,
    rate_per_sec  INTEGER,
    rate_burst    INTEGER,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;

CREATE UNIQUE INDEX api_keys_active_name ON api_keys (producer_id, name) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_producer ON api_keys (producer_id, created_at);
