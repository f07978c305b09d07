-- KYC Desk PostgreSQL schema 9: indexes the queue's searches and filters walk.
--
-- References and requester ids in code-point order, whatever the database's collation. The search
-- finds a reference's beginning, and a requester id's, as a range of these indexes
-- (`x COLLATE "C" >= text AND < text followed by the highest character`) instead of a trigram
-- scan; under a language's collation (en_US, ICU) such a range would miss or add values, so it is
-- written with COLLATE "C" and needs indexes of that collation.
CREATE INDEX cases_reference_c ON cases ((reference COLLATE "C"));
CREATE INDEX cases_requester_c ON cases ((requester_id COLLATE "C"));
-- The assignee's and the answer's indexes end with the id, as SQLite's end with the rowid, so that
-- a page of "pending, assigned to me" (with a search) or of the cases the fallback answered is
-- read in id order and stops when full, instead of reading every such case and sorting them (at
-- 100,000 cases a search among 10,000 assigned ones took 120 ms that way, 5 ms in order).
DROP INDEX IF EXISTS cases_assignee;
CREATE INDEX cases_assignee ON cases (assignee, status, id);
DROP INDEX IF EXISTS cases_status_answer;
CREATE INDEX cases_status_answer ON cases (status, answer_by, id);
-- The first approvals awaiting their second (four eyes), on their own: the checker's queue and
-- its count read them without reading every decision (at 100,000 cases the count's hash of them
-- was built from a scan of every decision, 23 ms; from this index, 3 ms).
CREATE INDEX decisions_first_approvals ON decisions (case_id) WHERE final = 0 AND decision = 'approve';
