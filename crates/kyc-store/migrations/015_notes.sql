-- KYC Desk schema v15: internal notes on a case and escalations to a supervisor. The text is
-- sealed under the case key (field note/<id>) like decision comments, and goes with the case on
-- erasure; the audit trail records that a note was added (its id), never its text.
CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('note', 'escalation')),
    by_user    TEXT NOT NULL,
    escalated_to TEXT,
    created_at INTEGER NOT NULL,
    text_sealed BLOB NOT NULL
);
CREATE INDEX notes_case ON notes (case_id);

-- The audit page and its CSV export filter by date.
CREATE INDEX audit_at ON audit (at);

-- The queue's "needs review" pin (pending cases the fallback answered) is an index seek, not a
-- scan of every pending case.
CREATE INDEX cases_status_answer ON cases (status, answer_by);
