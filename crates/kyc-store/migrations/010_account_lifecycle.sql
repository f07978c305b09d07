-- KYC Desk schema v10: account lifecycle. Accounts are disabled, never deleted (the audit trail
-- names them); an admin's password reset forces a change at the next sign-in.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
CREATE INDEX sessions_user ON sessions (user_name);
