-- KYC Desk schema v1: cases, their images, decisions, reviewer accounts and sessions.
CREATE TABLE cases (
    id              INTEGER PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    requester_id    TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    app_id          TEXT,
    body_sha256     BLOB NOT NULL,
    received_at     INTEGER NOT NULL,          -- unix milliseconds
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    holder_name     TEXT,
    document_number TEXT,
    document_type   TEXT,
    flags           TEXT NOT NULL DEFAULT '[]', -- JSON array of flags
    raw_json        TEXT NOT NULL,              -- payload as received, images replaced by markers
    answer_result   INTEGER,                    -- what Ditto ID was answered (NULL: not yet)
    answer_at       INTEGER,
    answer_by       TEXT CHECK (answer_by IN ('reviewer', 'auto', 'timeout')),
    answer_user_id  TEXT
);
CREATE INDEX cases_status_id ON cases (status, id);
CREATE INDEX cases_user_id ON cases (user_id);
CREATE INDEX cases_document_number ON cases (document_number);

CREATE TABLE images (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    mime    TEXT NOT NULL,
    width   INTEGER NOT NULL,
    height  INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (case_id, name)
) WITHOUT ROWID;

CREATE TABLE decisions (
    id        INTEGER PRIMARY KEY,
    case_id   INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    decision  TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    reasons   TEXT NOT NULL DEFAULT '[]',
    comment   TEXT NOT NULL DEFAULT '',
    by_kind   TEXT NOT NULL CHECK (by_kind IN ('reviewer', 'auto')),
    by_user   TEXT,
    decided_at INTEGER NOT NULL
);
CREATE INDEX decisions_case ON decisions (case_id);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('reviewer', 'supervisor', 'admin', 'auditor')),
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_sha256 BLOB PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
