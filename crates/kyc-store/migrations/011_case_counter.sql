-- KYC Desk schema v11: case ids (and with them references and image file names) come from a
-- counter that never goes back, so erasure, retention and restarts never hand an erased person's
-- number to someone else. It starts after the highest id the store ever used: the newest case, or
-- an erased one the audit trail still names. Existing cases keep their numbers.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
INSERT INTO counters (name, last)
SELECT 'case', MAX(COALESCE((SELECT MAX(id) FROM cases), 0),
                   COALESCE((SELECT MAX(case_id) FROM audit), 0));
