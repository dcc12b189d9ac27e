-- Sealpost schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql.
-- Times are BIGINT milliseconds since the Unix epoch; JSON values are TEXT.
-- Identifier and name columns use the "C" collation so they sort and compare byte-wise,
-- exactly as SQLite does, whatever the database's locale: paging by id (`id > $after
-- ORDER BY id`) must walk documents in the same order on both databases.

CREATE TABLE producers (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    email       TEXT,
    public_key  BYTEA  NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE login_sessions (
    jti          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    producer_id  TEXT COLLATE "C" NOT NULL REFERENCES producers (id),
    email        TEXT   NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE objects (
    key          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kek_id       TEXT   NOT NULL,
    wrapped_dek  BYTEA  NOT NULL,
    size         BIGINT,
    sha1         TEXT,
    created_at   BIGINT NOT NULL
);

-- `object_key` is UNIQUE: a document owns its object, so deleting the document may delete
-- the object row (its wrapped data key) and the blob without hurting another document.
-- The unique index also serves the orphan sweep's "no document references it" lookup.
CREATE TABLE documents (
    id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    producer_id     TEXT COLLATE "C" NOT NULL REFERENCES producers (id),
    placeholder_id  TEXT COLLATE "C" NOT NULL UNIQUE,
    name            TEXT   NOT NULL,
    media_type      TEXT   NOT NULL,
    object_key      TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES objects (key),
    size            BIGINT NOT NULL,
    hash_algorithm  TEXT   NOT NULL,
    hash_value      TEXT   NOT NULL,
    expiration      BIGINT NOT NULL,
    audience        TEXT,
    challenge       TEXT,
    fulfillment     TEXT,
    landingpage     TEXT,
    metadata        TEXT,
    created_at      BIGINT NOT NULL,
    last_modified   BIGINT NOT NULL
);

CREATE INDEX documents_producer_id ON documents (producer_id, id);
