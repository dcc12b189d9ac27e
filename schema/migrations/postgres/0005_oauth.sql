-- Sign-ins under way at an OAuth / OpenID provider, PostgreSQL dialect. Keep in step with
-- ../sqlite/0005_oauth.sql, which explains the table.

-- No foreign key: a sign-in for a document deleted meanwhile fails when the document is looked up.
CREATE TABLE oauth_pending (
    state_hash     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    document_id    TEXT COLLATE "C" NOT NULL,
    request        TEXT   NOT NULL,
    pkce_verifier  TEXT   NOT NULL,
    nonce          TEXT   NOT NULL,
    expires_at     BIGINT NOT NULL
);

CREATE INDEX oauth_pending_expiry ON oauth_pending (expires_at);
