-- KYC Desk PostgreSQL schema 6: which computation made each image hash (SQLite's v19 has the
-- why). The rows of method 1 are computed again from the stored images when an instance opens
-- the database; an instance of an earlier version, which writes method 1, refuses this schema.
ALTER TABLE image_hashes ADD COLUMN method BIGINT NOT NULL DEFAULT 1;
CREATE INDEX image_hashes_stale ON image_hashes (case_id) WHERE method = 1;
