-- One row per flag code of a case, so the queue's flag filter is an index lookup instead of a
-- scan of every case's flags JSON. Filled from cases.flags for existing cases.
CREATE TABLE case_flags (
    code    TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    PRIMARY KEY (code, case_id)
) WITHOUT ROWID;
CREATE INDEX case_flags_case ON case_flags (case_id);
INSERT OR IGNORE INTO case_flags (code, case_id)
    SELECT json_extract(f.value, '$.code'), cases.id FROM cases, json_each(cases.flags) AS f
    WHERE json_extract(f.value, '$.code') IS NOT NULL;
