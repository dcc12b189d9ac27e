-- Retention of the attribution rows (issue 22), sqlite dialect. Keep in step with
-- ../postgres/0020_view_retention.sql.
--
-- `gateway_views` and `vault_downloads` hold client addresses as the logs do, so they go when
-- their log's lines go: the retention job purges each with its log (`gateway_views` with the
-- gateway log, `vault_downloads` with the vault log), oldest first in short chunks, through
-- these indexes. A deleted document's rows go in the deletion's transaction (by the primary
-- key's and `vault_downloads_record`'s leading `document_id`).
CREATE INDEX gateway_views_time ON gateway_views (time);
CREATE INDEX vault_downloads_time ON vault_downloads (time);
