-- v3: the audit trail, an append-only log chained by SHA-256 (each entry hashes the previous one).
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,          -- unix ms
    actor     TEXT NOT NULL,             -- a user name, 'ditto-id', 'policy', 'system'
    action    TEXT NOT NULL,             -- e.g. case.received, case.viewed, case.decided, login.failed
    case_id   INTEGER,                   -- kept after erasure: ids only, no personal data
    detail    TEXT NOT NULL DEFAULT '{}',
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_case ON audit (case_id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
