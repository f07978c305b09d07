-- KYC Desk schema v12: an erasure is complete only when no copy of the case is left in the WAL.
-- While a reader's snapshot keeps the WAL from being checkpointed and truncated, the erasure is
-- pending here (ids and references only); it is retried, also after a restart, and audited as
-- case.erasure_completed when done.
CREATE TABLE pending_erasures (
    case_id      INTEGER PRIMARY KEY,
    reference    TEXT NOT NULL,
    requested_at INTEGER NOT NULL
);
