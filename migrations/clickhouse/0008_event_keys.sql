-- Each stored event records the ingest key that sent it (the collector's
-- keel-key Kafka header; 0 for an event written straight to Kafka without
-- one, and for every event stored before this migration), so that what a
-- product app wrote can be told from what another did.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: the migrator takes
-- "the column already exists" for done, which keeps this idempotent. The
-- new column is the last one, outside the sorting key, so existing parts
-- are not rewritten (they read the DEFAULT).
ALTER TABLE events ADD COLUMN key_id UInt64 DEFAULT 0;
