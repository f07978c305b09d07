-- KYC Desk schema v17: failed sign-ins counted where every instance sees them (several instances
-- on one database must not each allow their own guesses). A row is one failure of one throttle key
-- (an address, or a name from an address), stored as a keyed tag: no name or address in the clear.
-- Rows older than a day are pruned as new failures are written.
CREATE TABLE sign_in_failures (
    key BLOB NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
