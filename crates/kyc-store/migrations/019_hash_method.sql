-- KYC Desk schema v19: which computation made each image hash. Method 1 decoded the whole image;
-- method 2 decodes a JPEG at a fraction of its size through its DCT (most of ingest's CPU was the
-- whole decode), which moves a hash by a few bits against method 1's. The rows of method 1 are
-- computed again from the stored images when the desk opens the store (kyc-core's rehash); the
-- partial index finds them, and is empty once they are done.
ALTER TABLE image_hashes ADD COLUMN method INTEGER NOT NULL DEFAULT 1;
CREATE INDEX image_hashes_stale ON image_hashes (case_id) WHERE method = 1;
