-- Several public keys per producer, single-use login assertions, the environment of a login
-- (issue 16, items 3, 4 and 7), PostgreSQL dialect. Keep in step with ../sqlite/0013_producer_keys.sql.
--
-- `producer_keys` is what a login is checked against; `producers.public_key` keeps the key the
-- producer was created with and is never consulted again (its UNIQUE constraint still stops
-- another producer from registering that key, even after it was removed here).
-- A session remembers the key that logged in (`key_id`), so removing a key ends its tokens.
-- `used_assertions` holds each assertion's `jti` until its `exp`: a second use is refused on
-- every process sharing the database.
CREATE TABLE producer_keys (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    producer_id  TEXT COLLATE "C" NOT NULL REFERENCES producers (id),
    public_key   BYTEA  NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);

CREATE INDEX producer_keys_producer ON producer_keys (producer_id, created_at);

INSERT INTO producer_keys (id, producer_id, public_key, created_at)
    SELECT substr(md5(random()::text || id), 1, 16), id, public_key, created_at FROM producers;

ALTER TABLE login_sessions ADD COLUMN key_id TEXT COLLATE "C";
ALTER TABLE login_sessions ADD COLUMN environment TEXT NOT NULL DEFAULT 'live';
CREATE INDEX login_sessions_key ON login_sessions (key_id);

CREATE TABLE used_assertions (
    producer_id  TEXT COLLATE "C" NOT NULL,
    jti          TEXT COLLATE "C" NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (producer_id, jti)
);
