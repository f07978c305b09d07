-- KYC Desk PostgreSQL schema 4: the queue's search matches part of a reference or requester id
-- (`lower(x) LIKE '%…%'`); trigram indexes let it start from the few matching cases instead of
-- reading every case. pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may
-- create it. Where it is not installed the search still works, reading every case; the warning
-- says so once, at this migration.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm is not available (%): the search by reference or requester id reads every case', SQLERRM;
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX cases_reference_trgm ON cases USING gin (lower(reference) gin_trgm_ops);
        CREATE INDEX cases_requester_trgm ON cases USING gin (lower(requester_id) gin_trgm_ops);
    END IF;
END $$;
