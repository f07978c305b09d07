-- Images of new cases live in `images/<case id>.sealed` next to the database; their rows keep
-- the sealed image's place in that file. Rows with NULL file_len keep it inline in `bytes`.
ALTER TABLE images ADD COLUMN file_offset INTEGER;
ALTER TABLE images ADD COLUMN file_len INTEGER;
-- cases.body_sha256 is no longer written (x'' for new cases): a repeated requester id is
-- compared with the stored case by content (JSON and image bytes) instead.
