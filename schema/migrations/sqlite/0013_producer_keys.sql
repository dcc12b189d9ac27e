-- Several public keys per producer, single-use login assertions, the environment of a login
-- (issue 16, items 3, 4 and 7), SQLite dialect. Keep in step with ../postgres/0013_producer_keys.sql.
--
-- `producer_keys` is what a login is checked against; `producers.public_key` keeps the key the
-- producer was created with and is never consulted again (its UNIQUE constraint still stops
-- another producer from registering that key, even after it was removed here).
-- A session remembers the key that logged in (`key_id`), so removing a key ends its tokens.
-- `used_assertions` holds each assertion's `jti` until its `exp`: a second use is refused on
-- every process sharing the database.
CREATE TABLE producer_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    producer_id  TEXT    NOT NULL REFERENCES producers (id),
    public_key   BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX producer_keys_producer ON producer_keys (producer_id, created_at);

INSERT INTO producer_keys (id, producer_id, public_key, created_at)
    SELECT lower(hex(randomblob(8))), id, public_key, created_at FROM producers;

ALTER TABLE login_sessions ADD COLUMN key_id TEXT;
ALTER TABLE login_sessions ADD COLUMN environment TEXT NOT NULL DEFAULT 'live';
CREATE INDEX login_sessions_key ON login_sessions (key_id);

CREATE TABLE used_assertions (
    producer_id  TEXT    NOT NULL,
    jti          TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (producer_id, jti)
) STRICT;
