-- Pending multipart uploads (issue 19, item 1), postgres dialect. Keep in step with
-- ../sqlite/0016_object_uploads.sql.
--
-- On an S3-compatible store an object is written by a multipart upload, whose parts the store
-- keeps (and bills) until the upload is completed or aborted, and which no object listing
-- shows. The vault records the upload's id here right after creating it and clears it when the
-- upload completes, so the orphan sweep can abort the upload of a row left behind by a vault
-- killed mid-upload. NULL: no upload in flight (finished objects, the local store).
ALTER TABLE objects ADD COLUMN upload_id TEXT;
