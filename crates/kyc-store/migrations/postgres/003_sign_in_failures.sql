-- KYC Desk PostgreSQL schema 3 (SQLite v17): failed sign-ins counted where every instance sees
-- them. One row per failure of one throttle key (an address, or a name from an address) as a keyed
-- tag: no name or address in the clear. Rows older than a day are pruned as new ones are written.
CREATE TABLE sign_in_failures (
    key BYTEA NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
