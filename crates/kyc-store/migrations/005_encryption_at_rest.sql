-- KYC Desk schema v5: personal data encrypted at rest, blind-index search, erasure.
-- Per-case data keys, wrapped by the master key; deleting the row crypto-shreds the case.
CREATE TABLE case_keys (
    case_id INTEGER PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    wrapped BLOB NOT NULL
);
-- Keyed HMAC tags of name words and document numbers (exact-word search without plaintext).
CREATE TABLE search_tags (
    tag     BLOB NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, case_id)
) WITHOUT ROWID;
CREATE INDEX search_tags_case ON search_tags (case_id);
-- Salt of a passphrase-derived master key and a sealed check value of the master key.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
-- pii: sealed {holder_name, document_number, flags}; raw: sealed raw_json. The plaintext columns
-- holder_name, document_number and raw_json stay empty; flags keeps codes and severities only.
ALTER TABLE cases ADD COLUMN pii BLOB;
ALTER TABLE cases ADD COLUMN raw BLOB;
ALTER TABLE cases ADD COLUMN document_tag BLOB;
DROP INDEX cases_document_number;
CREATE INDEX cases_document_tag ON cases (document_tag);
-- images.bytes and decisions.comment are sealed once `sealed` = 1.
ALTER TABLE images ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE decisions ADD COLUMN comment_sealed BLOB;
-- Ditto ID's user id is often an e-mail address or a phone number: sealed in pii, matched by tag.
-- The answer's user id, a decision's linked user id and webhook bodies (which carry them) too.
ALTER TABLE cases ADD COLUMN user_tag BLOB;
DROP INDEX cases_user_id;
CREATE INDEX cases_user_tag ON cases (user_tag);
ALTER TABLE cases ADD COLUMN answer_user BLOB;
ALTER TABLE decisions ADD COLUMN link_sealed BLOB;
ALTER TABLE deliveries ADD COLUMN body_sealed BLOB;
