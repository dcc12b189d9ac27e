-- Sign-ins under way at an OAuth / OpenID provider, SQLite dialect. Keep in step with
-- ../postgres/0005_oauth.sql.

-- One row per redirect to a provider, written when the gateway sends the viewer there and
-- deleted by the callback that takes it (so a `state` works once). `state_hash` is the
-- lowercase hex SHA-256 of the `state` (the state itself lives only in the viewer's cookie and
-- in the provider's redirect); `request` is the document request to return to; `pkce_verifier`
-- and `nonce` are what the token exchange and the ID token are checked against. Rows that were
-- never taken are pruned through the index once they expired. No foreign key: a sign-in for a
-- document deleted meanwhile fails later, when the document is looked up.
CREATE TABLE oauth_pending (
    state_hash     TEXT    NOT NULL PRIMARY KEY,
    document_id    TEXT    NOT NULL,
    request        TEXT    NOT NULL,
    pkce_verifier  TEXT    NOT NULL,
    nonce          TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_pending_expiry ON oauth_pending (expires_at);
