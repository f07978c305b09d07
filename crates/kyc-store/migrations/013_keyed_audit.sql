-- KYC Desk schema v13: audit entries from here on are chained by HMAC-SHA256 under a key derived
-- from the master key (never stored), so rewriting the chain needs the master key. Earlier
-- entries keep their SHA-256 links; where the keyed ones begin is kept in meta
-- ('audit_keyed_from', MAC'd), written by the program when it applies this migration.
ALTER TABLE audit ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
