-- KYC Desk PostgreSQL schema 11: the document's and the user's tag indexes end with the id.
--
-- A new case's history reads the latest five other cases of its document, and of its user
-- (`WHERE document_tag = $1 … ORDER BY id DESC LIMIT 5`). With indexes of the tag alone, a plan
-- made once for any tag (PostgreSQL's choice after five runs, when statistics say a tag has many
-- cases) walks every case newest first looking for five of them: for a document no other case has,
-- that read all 100,000 cases, about 200 ms of every post, under the write lock. Ending with the
-- id, as SQLite's indexes end with the rowid, the index itself gives a tag's cases newest first,
-- whatever plan is chosen and whatever the statistics say.
DROP INDEX IF EXISTS cases_document_tag;
CREATE INDEX cases_document_tag ON cases (document_tag, id);
DROP INDEX IF EXISTS cases_user_tag;
CREATE INDEX cases_user_tag ON cases (user_tag, id);
