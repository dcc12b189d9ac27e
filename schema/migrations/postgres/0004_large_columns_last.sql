-- Large JSON columns last: a SQLite-only change (see ../sqlite/0004_large_columns_last.sql).
-- PostgreSQL keeps large values out of line (TOAST), so reading the other columns never
-- touches them; this file keeps the two dialects' migration numbers in step.
SELECT 1;
