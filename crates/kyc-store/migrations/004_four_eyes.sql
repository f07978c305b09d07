-- v4: four-eyes approvals. A first approval of a flagged case is recorded but not final.
ALTER TABLE decisions ADD COLUMN final INTEGER NOT NULL DEFAULT 1;
