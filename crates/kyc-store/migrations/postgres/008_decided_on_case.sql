-- KYC Desk PostgreSQL schema 8: a case's final decision's time and decider kept on the case, written in the
-- decision's transaction, and in the received-range index. Statistics read one index range and no
-- decision: the join to `decisions` was 0.53 of the 0.70 s a year's statistics took at 1,000,000
-- cases (BENCHMARKS.md, issue 19). `decided_by` is the reviewer's account, NULL for the policy.
ALTER TABLE cases ADD COLUMN decided_at BIGINT;
ALTER TABLE cases ADD COLUMN decided_by TEXT;
UPDATE cases SET decided_at = d.decided_at, decided_by = d.by_user
    FROM decisions d WHERE d.case_id = cases.id AND d.final = 1;
DROP INDEX cases_received;
CREATE INDEX cases_received ON cases (received_at, status, answer_by, answer_result, decided_at, decided_by);
