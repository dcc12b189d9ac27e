-- Large JSON columns last, SQLite dialect. Keep in step with ../postgres/0004_large_columns_last.sql.
--
-- SQLite stores a row's columns in declaration order and spills what does not fit in the page
-- to a chain of overflow pages; reading a column stored after a large value walks that chain.
-- An audience can hold 10,000 records (about a megabyte), so with `audience` in the middle
-- every gateway request that reads `challenge`, `landingpage` or `last_modified` cost time in
-- proportion to the audience. ADD COLUMN appends, so re-adding the three large columns puts
-- them after every column the gateway reads; `audience IS NOT NULL` is answered from the
-- record header without reading the value.

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
