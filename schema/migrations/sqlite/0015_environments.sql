-- Live and test documents (issue 16, item 7), SQLite dialect. Keep in step with
-- ../postgres/0015_environments.sql.
--
-- A document belongs to the environment of the credential that created it; every query of the
-- producer API is scoped to (producer, environment). Documents stored before this migration are
-- live. The gateway reads `environment` on every request (a test document's landing page says
-- so), so, as in 0004 and 0011, the large JSON columns are re-added after it: ADD COLUMN
-- appends, and a column stored after an audience's overflow pages costs a walk of that chain.
ALTER TABLE documents ADD COLUMN environment TEXT NOT NULL DEFAULT 'live'
    CHECK (environment IN ('live', 'test'));
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

-- Browse and every scoped read go by (producer, environment, id); the old (producer, id) index
-- is a prefix of the new one's columns only for queries naming no environment, which the
-- producer API no longer makes.
DROP INDEX documents_producer_id;
CREATE INDEX documents_tenant ON documents (producer_id, environment, id);

-- The test documents ever created. Audit-log lines outlive their document, and a log export is
-- scoped to an environment: a line is a test line when it names a document listed here (kept
-- after the document is deleted, like the hit counters), a live line otherwise. One short row
-- per test document.
CREATE TABLE test_documents (
    document_id TEXT NOT NULL PRIMARY KEY
) STRICT;

-- A delivery runs in its document's environment: a test delivery's worker renders each message
-- and keeps it (`captured`, sealed like `secrets` under the deliveries' key) instead of sending
-- it. Wiped with the viewer data when the document is deleted.
ALTER TABLE deliveries ADD COLUMN environment TEXT NOT NULL DEFAULT 'live'
    CHECK (environment IN ('live', 'test'));
ALTER TABLE delivery_jobs ADD COLUMN captured BLOB;
