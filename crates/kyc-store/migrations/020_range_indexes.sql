-- KYC Desk schema v20: the date ranges read from indexes, not from every case. Statistics read
-- the cases received in a range (the index covers what they read of the case: its row holds the
-- sealed payload before these columns, so reading them from the row follows its overflow pages),
-- the decisions CSV the decisions made in one. Measured at 100,000 cases: statistics over 30 days
-- 166 ms before (BENCHMARKS.md, issue 19).
CREATE INDEX cases_received ON cases (received_at, status, answer_by, answer_result);
CREATE INDEX decisions_decided ON decisions (decided_at);
