-- KYC Desk PostgreSQL schema 5: image_hashes holds the document portraits' 512-bit hashes beside
-- the selfies' (image = 'portrait_image', sealed bound to the case and the image). No table
-- changes; the version is raised so that an instance of an earlier version, which reads every
-- row of image_hashes as a selfie's hash, refuses this database instead of failing on its rows.
COMMENT ON TABLE image_hashes IS 'sealed perceptual hashes: selfie (128 bits), portrait_image (512 bits)';
