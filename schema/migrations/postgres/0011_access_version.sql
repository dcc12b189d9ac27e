-- Access versions (issue 14, finding 6), postgres dialect. Keep in step with
-- ../sqlite/0011_access_version.sql.
--
-- `access_version` moves on every change of a document's audience or challenge (the API server
-- decides, inside its compare-and-swap on `last_modified`). The gateway binds it into every
-- handle it mints, and the vault refuses a handle whose version is no longer the document's:
-- a viewer removed from the audience cannot keep downloading with a handle issued before.
-- (PostgreSQL keeps the large columns out of line: no reordering needed, unlike SQLite.)
ALTER TABLE documents ADD COLUMN access_version BIGINT NOT NULL DEFAULT 0;
