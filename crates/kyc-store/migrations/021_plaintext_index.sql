-- KYC Desk schema v21: the rows stored before encryption at rest (schema 5), which every open
-- seals, are found by an index that holds only them (empty once they are sealed) instead of a scan
-- of every case: 5.4 s of each start at 1,000,000 cases (BENCHMARKS.md, issue 19).
CREATE INDEX cases_plaintext ON cases (id) WHERE pii IS NULL;
