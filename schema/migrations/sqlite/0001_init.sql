-- Sealpost schema, SQLite dialect. Keep in step with ../postgres/0001_init.sql.
-- Times are INTEGER milliseconds since the Unix epoch; JSON values are TEXT.
-- STRICT tables refuse a value of the wrong type instead of silently storing it,
-- which is what PostgreSQL does too (STRICT only knows INTEGER, so no BIGINT here:
-- SQLite's INTEGER is already 64-bit).

CREATE TABLE producers (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    email       TEXT,
    public_key  BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE login_sessions (
    jti          TEXT    NOT NULL PRIMARY KEY,
    producer_id  TEXT    NOT NULL REFERENCES producers (id),
    email        TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;

CREATE TABLE objects (
    key          TEXT    NOT NULL PRIMARY KEY,
    kek_id       TEXT    NOT NULL,
    wrapped_dek  BLOB    NOT NULL,
    size         INTEGER,
    sha1         TEXT,
    created_at   INTEGER NOT NULL
) STRICT;

-- `object_key` is UNIQUE: a document owns its object, so deleting the document may delete
-- the object row (its wrapped data key) and the blob without hurting another document.
-- The unique index also serves the orphan sweep's "no document references it" lookup.
CREATE TABLE documents (
    id              TEXT    NOT NULL PRIMARY KEY,
    producer_id     TEXT    NOT NULL REFERENCES producers (id),
    placeholder_id  TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    media_type      TEXT    NOT NULL,
    object_key      TEXT    NOT NULL UNIQUE REFERENCES objects (key),
    size            INTEGER NOT NULL,
    hash_algorithm  TEXT    NOT NULL,
    hash_value      TEXT    NOT NULL,
    expiration      INTEGER NOT NULL,
    audience        TEXT,
    challenge       TEXT,
    fulfillment     TEXT,
    landingpage     TEXT,
    metadata        TEXT,
    created_at      INTEGER NOT NULL,
    last_modified   INTEGER NOT NULL
) STRICT;

CREATE INDEX documents_producer_id ON documents (producer_id, id);
