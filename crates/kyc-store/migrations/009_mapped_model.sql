-- For a custom body ([receiver.mapping]): the model it was mapped into (images as markers),
-- sealed under the case key (field "model"), so the case view shows the mapped fields and scores.
-- `raw` keeps the body as received. NULL for default bodies (their raw is the model).
ALTER TABLE cases ADD COLUMN model BLOB;
