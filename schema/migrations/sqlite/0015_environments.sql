-- Live and test documents (issue 16, item 7), SQLite dialect. Keep in step with
-- ../postgres/0015_environments.sql.
--
-- A document belongs to the environment of the credential that created it; every query of the
-- producer API is scoped to (producer, environment). Documents stored before this migration are
-- live.
ALTER TABLE documents ADD COLUMN environment TEXT NOT NULL DEFAULT 'live'
    CHECK (environment IN ('live', 'test'));
