-- Live and test documents (issue 16, item 7), PostgreSQL dialect. Keep in step with
-- ../sqlite/0015_environments.sql.
--
-- A document belongs to the environment of the credential that created it; every query of the
-- producer API is scoped to (producer, environment). Documents stored before this migration are
-- live. (PostgreSQL keeps the large columns out of line: no reordering needed, unlike SQLite.)
ALTER TABLE documents ADD COLUMN environment TEXT NOT NULL DEFAULT 'live'
    CHECK (environment IN ('live', 'test'));

-- Browse and every scoped read go by (producer, environment, id).
DROP INDEX documents_producer_id;
CREATE INDEX documents_tenant ON documents (producer_id, environment, id);

-- The test documents ever created. Audit-log lines outlive their document, and a log export is
-- scoped to an environment: a line is a test line when it names a document listed here (kept
-- after the document is deleted, like the hit counters), a live line otherwise.
CREATE TABLE test_documents (
    document_id TEXT NOT NULL PRIMARY KEY
);

-- A delivery runs in its document's environment: a test delivery's worker renders each message
-- and keeps it (`captured`, sealed like `secrets` under the deliveries' key) instead of sending
-- it. Wiped with the viewer data when the document is deleted.
ALTER TABLE deliveries ADD COLUMN environment TEXT NOT NULL DEFAULT 'live'
    CHECK (environment IN ('live', 'test'));
ALTER TABLE delivery_jobs ADD COLUMN captured BYTEA;
