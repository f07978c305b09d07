-- KYC Desk PostgreSQL schema 12: the database announces every change to accounts and sessions.
--
-- An instance keeps the sessions it checked lately only while its listener hears this (see
-- kyc-store's sessions.rs): a session ended, an account disabled, its role or its password
-- changed — by any instance, the command line, or by hand in psql — and every instance forgets
-- what it kept. Statement triggers, sent on commit: a statement that removed no session (a
-- sign-in's purge of expired ones) says nothing, and neither does a sign-in's time. Run again
-- (a test's rolled-back schema), it replaces what it made.
CREATE OR REPLACE FUNCTION kyc_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- With an argument: always (no rows to look at); else when the statement changed rows.
    IF TG_NARGS > 0 THEN
        PERFORM pg_notify('kyc_desk_events', '{"kind":"sessions.changed"}');
    ELSIF EXISTS (SELECT 1 FROM changed) THEN
        PERFORM pg_notify('kyc_desk_events', '{"kind":"sessions.changed"}');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_deleted ON sessions;
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed();
DROP TRIGGER IF EXISTS sessions_updated ON sessions;
CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed();
DROP TRIGGER IF EXISTS sessions_truncated ON sessions;
CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed('always');
DROP TRIGGER IF EXISTS users_deleted ON users;
CREATE TRIGGER users_deleted AFTER DELETE ON users REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed();
DROP TRIGGER IF EXISTS users_updated ON users;
CREATE TRIGGER users_updated
    AFTER UPDATE OF name, role, disabled_at, must_change_password, password_hash ON users
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed('always');
DROP TRIGGER IF EXISTS users_truncated ON users;
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION kyc_sessions_changed('always');
