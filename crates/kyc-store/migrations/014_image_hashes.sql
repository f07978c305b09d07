-- KYC Desk schema v14: each case's selfie perceptual hash, sealed under a key derived from the
-- master key (biometric-derived data), read once at start into the in-memory index that finds a
-- selfie reused across users. Erased with the case.
CREATE TABLE image_hashes (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    image   TEXT NOT NULL,
    sealed  BLOB NOT NULL,
    PRIMARY KEY (case_id, image)
);
