-- Access versions (issue 14, finding 6), SQLite dialect. Keep in step with
-- ../postgres/0011_access_version.sql.
--
-- `access_version` moves on every change of a document's audience or challenge (the API server
-- decides, inside its compare-and-swap on `last_modified`). The gateway binds it into every
-- handle it mints, and the vault refuses a handle whose version is no longer the document's:
-- a viewer removed from the audience cannot keep downloading with a handle issued before.
--
-- ADD COLUMN appends, after the large JSON columns; as in 0004, they are re-added after it so
-- the gateway's per-request read of the small columns never walks an audience's overflow pages.
ALTER TABLE documents ADD COLUMN access_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN audience_last TEXT;
ALTER TABLE documents ADD COLUMN fulfillment_last TEXT;
ALTER TABLE documents ADD COLUMN metadata_last TEXT;
UPDATE documents SET audience_last = audience, fulfillment_last = fulfillment, metadata_last = metadata;
ALTER TABLE documents DROP COLUMN audience;
ALTER TABLE documents DROP COLUMN fulfillment;
ALTER TABLE documents DROP COLUMN metadata;
ALTER TABLE documents RENAME COLUMN audience_last TO audience;
ALTER TABLE documents RENAME COLUMN fulfillment_last TO fulfillment;
ALTER TABLE documents RENAME COLUMN metadata_last TO metadata;
