-- KYC Desk schema v18: the image files of erased cases still to remove. A row is written in the
-- erasure's own transaction; the file goes after the commit and the row with the next write. An
-- open looks only at these rows and at the files numbered past the last case (of inserts that
-- never committed), not at every file of the store.
CREATE TABLE file_removals (
    case_id INTEGER PRIMARY KEY
);
