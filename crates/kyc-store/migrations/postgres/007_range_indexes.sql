-- KYC Desk PostgreSQL schema 7: the date ranges of statistics and the decisions CSV read from
-- indexes, not from every case (SQLite's v20 has the why).
CREATE INDEX cases_received ON cases (received_at, status, answer_by, answer_result);
CREATE INDEX decisions_decided ON decisions (decided_at);
