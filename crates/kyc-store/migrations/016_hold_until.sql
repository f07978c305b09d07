-- KYC Desk schema v16: which cases Ditto ID waits on is stored, not kept in one process's memory.
-- `hold_until` is the end (unix ms) of the latest hold window an instance opened on the case; it
-- is cleared when the case is answered, and a window that ended (the instance stopped, or Ditto ID
-- hung up) simply no longer counts. Several instances on one database all see the same holds.
ALTER TABLE cases ADD COLUMN hold_until INTEGER;
CREATE INDEX cases_hold_until ON cases (hold_until) WHERE hold_until IS NOT NULL;
