-- KYC Desk PostgreSQL schema 10: case ids from a sequence.
--
-- Case ids from a sequence: a new case's id is taken, and its images stored, before the write
-- lock (several instances store images at once; the lock covers only the case's rows). The
-- counter still follows the highest id given (a copy to SQLite goes on after it).
CREATE SEQUENCE case_ids;
SELECT setval('case_ids', GREATEST((SELECT last FROM counters WHERE name = 'case'),
                                   (SELECT MAX(id) FROM cases), 0) + 1, false);
