-- Retention of the attribution rows (issue 22), postgres dialect. Keep in step with the other
-- dialect's 0020_view_retention.sql, which explains them.
CREATE INDEX gateway_views_time ON gateway_views (time);
CREATE INDEX vault_downloads_time ON vault_downloads (time);
