-- KYC Desk PostgreSQL schema 2 (SQLite v16): which cases Ditto ID waits on is stored, not kept in
-- one instance's memory. `hold_until` is the end (unix ms) of the latest hold window any instance
-- opened on the case; cleared when the case is answered; an ended window no longer counts.
ALTER TABLE cases ADD COLUMN hold_until BIGINT;
CREATE INDEX cases_hold_until ON cases (hold_until) WHERE hold_until IS NOT NULL;
