-- v2: which rule decided automatically, reviewer-linked user ids, and the webhook outbox.
ALTER TABLE decisions ADD COLUMN rule TEXT;
ALTER TABLE decisions ADD COLUMN link_user_id TEXT;

CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    event        TEXT NOT NULL,
    body         TEXT NOT NULL,            -- the exact JSON posted (signed as is)
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,         -- unix ms of the next attempt
    last_status  INTEGER,                  -- HTTP status of the last attempt
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX deliveries_due ON deliveries (status, next_at);
CREATE INDEX deliveries_case ON deliveries (case_id);
