-- The IP allowlist of each producer (issue 16, item 5), postgres dialect. Keep in step with the other
-- dialect's 0014_allowlist.sql.
--
-- A JSON array of CIDRs (IPv4 and IPv6), as `PUT /producer/allowlist` took it, normalised;
-- `[]` (the default) lifts the restriction.
ALTER TABLE producers ADD COLUMN allowlist TEXT NOT NULL DEFAULT '[]';
