//! The accounts' rows: users (never deleted: the audit trail names them), their password hashes
//! as kyc-core made them, and sign-in sessions (random tokens, stored hashed), which every account
//! change revokes. Each change and its audit entry are one transaction; the password rules and
//! hashing are kyc-core's.

use crate::db::{Connection, OptionalRow, Row};
use crate::params;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::timefmt::rfc3339;
use crate::{Error, Result, Store};
use kyc_domain::account::{Account, Session, User};
use kyc_domain::roles::Role;

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Forgets the sessions this instance kept as it drops, after the write that changed accounts or
/// sessions ended (committed or not: a check read before it is not kept either).
struct ForgetSessions<'a>(&'a Store);

impl Drop for ForgetSessions<'_> {
    fn drop(&mut self) {
        self.0.sessions.forget_all();
    }
}

fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Opens a session inside `tx`; returns the token and its expiry (ms).
fn open_session(
    tx: &dyn Connection,
    name: &str,
    ttl_minutes: u64,
    now: i64,
) -> Result<(String, i64)> {
    let token = new_token();
    let expires = now + (ttl_minutes as i64) * 60_000;
    tx.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
    tx.execute(
        "INSERT INTO sessions (token_sha256, user_name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash(&token), name, now, expires],
    )?;
    Ok((token, expires))
}

/// Every column an [`Account`] needs, in `account_from_row`'s order.
const ACCOUNT_COLS: &str =
    "name, role, disabled_at IS NOT NULL, must_change_password, last_login_at, created_at";

fn account_from_row(r: &Row) -> Result<(Account, String)> {
    let role: String = r.get(1)?;
    Ok((
        Account {
            name: r.get(0)?,
            role: Role::Reviewer,
            disabled: r.get(2)?,
            must_change_password: r.get(3)?,
            last_login_at: r.get::<Option<i64>>(4)?.map(rfc3339),
            created_at: rfc3339(r.get(5)?),
        },
        role,
    ))
}

fn account(tx: &dyn Connection, name: &str) -> Result<Account> {
    let row = tx
        .query_row(
            &format!("SELECT {ACCOUNT_COLS} FROM users WHERE name = ?1"),
            [name],
            account_from_row,
        )
        .optional()?;
    let (mut a, role) = row.ok_or_else(|| Error::UnknownUser(name.to_string()))?;
    a.role = role.parse()?;
    Ok(a)
}

/// A change to an account's row, with the new password already hashed.
#[derive(Debug, Clone)]
pub enum AccountUpdate {
    /// Disable (sessions end; the name stays taken).
    Disable,
    /// Enable again.
    Enable,
    /// Give it another role.
    SetRole(Role),
    /// A temporary password (its PHC hash) the account must replace at its next sign-in.
    ResetPassword {
        /// The new password's hash.
        hash: String,
    },
}

impl AccountUpdate {
    fn action(&self) -> &'static str {
        match self {
            AccountUpdate::Disable => "user.disabled",
            AccountUpdate::Enable => "user.enabled",
            AccountUpdate::SetRole(_) => "user.role_changed",
            AccountUpdate::ResetPassword { .. } => "user.password_reset",
        }
    }
}

/// What a sign-in checks: the stored row of the account named.
#[derive(Debug, Clone)]
pub struct SignInRow {
    /// The account's role.
    pub role: Role,
    /// Its password's PHC hash.
    pub password_hash: String,
    /// An admin disabled it.
    pub disabled: bool,
    /// An admin reset its password.
    pub must_change_password: bool,
}

/// How long a failed sign-in is remembered in the database (longer than any throttle's window).
const FAILURES_KEPT_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// Creates the account (`hash`: its password's PHC hash) and its one `user.created` audit
    /// entry (naming `actor`) in one transaction; with `only_if_first`, only while no account
    /// exists at all.
    pub fn insert_account(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        hash: &str,
        only_if_first: bool,
    ) -> Result<User> {
        self.write(|tx| {
            if only_if_first {
                let count: i64 = tx.query_row("SELECT count(*) FROM users", params![], |r| r.get(0))?;
                if count > 0 {
                    return Err(Error::BadRequest(
                        "setup is done: accounts exist already; sign in".into(),
                    ));
                }
            }
            let inserted = tx.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![name, role.as_str(), hash, self.now_ms()],
            )?;
            if inserted == 0 {
                return Err(Error::UserExists(name.to_string()));
            }
            crate::audit::append(tx, self.vault(), self.now_ms(),
                actor,
                "user.created",
                None,
                &serde_json::json!({"name": name, "role": role.as_str()}),
            )?;
            Ok(User {
                name: name.to_string(),
                role,
                must_change_password: false,
            })
        })
    }

    /// Every account, for admins (and supervisors, who assign cases to them).
    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|c| {
            let rows = c.query_map(
                &format!("SELECT {ACCOUNT_COLS} FROM users ORDER BY name"),
                params![],
                account_from_row,
            )?;
            rows.into_iter()
                .map(|(mut a, role)| {
                    a.role = role.parse()?;
                    Ok(a)
                })
                .collect()
        })
    }

    /// How many accounts exist (none: the first-run setup is open).
    pub fn user_count(&self) -> Result<i64> {
        self.read(|c| c.query_row("SELECT count(*) FROM users", params![], |r| r.get(0)))
    }

    /// Changes an account (`actor` is the admin, or `system` from the command line): the change,
    /// its audit entry and the revocation of every session of the account are one transaction.
    /// Refused when it would leave no enabled admin.
    pub fn update_account(
        &self,
        actor: &str,
        name: &str,
        change: &AccountUpdate,
    ) -> Result<Account> {
        // The sessions kept here go at once (other instances hear of it).
        let _forget = ForgetSessions(self);
        self.write(|tx| {
            let before = account(tx, name)?;
            let mut detail = serde_json::json!({"name": name});
            match change {
                AccountUpdate::Disable => {
                    tx.execute(
                        "UPDATE users SET disabled_at = COALESCE(disabled_at, ?2) WHERE name = ?1",
                        params![name, self.now_ms()],
                    )?;
                }
                AccountUpdate::Enable => {
                    tx.execute("UPDATE users SET disabled_at = NULL WHERE name = ?1", [name])?;
                }
                AccountUpdate::SetRole(role) => {
                    tx.execute(
                        "UPDATE users SET role = ?2 WHERE name = ?1",
                        params![name, role.as_str()],
                    )?;
                    detail["from"] = before.role.as_str().into();
                    detail["to"] = role.as_str().into();
                }
                AccountUpdate::ResetPassword { hash } => {
                    tx.execute(
                        "UPDATE users SET password_hash = ?2, must_change_password = 1 WHERE name = ?1",
                        params![name, hash],
                    )?;
                }
            }
            let admins: i64 = tx.query_row(
                "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL", params![],
                |r| r.get(0),
            )?;
            if admins == 0 {
                return Err(Error::LastAdmin);
            }
            let revoked = tx.execute("DELETE FROM sessions WHERE user_name = ?1", [name])?;
            detail["sessions_revoked"] = revoked.into();
            crate::audit::append(tx, self.vault(), self.now_ms(), actor, change.action(), None, &detail)?;
            let after = account(tx, name)?;
            Ok(after)
        })
    }

    /// The password hash of an enabled account, if there is one by that name.
    pub fn enabled_password_hash(&self, name: &str) -> Result<Option<String>> {
        self.read(|c| {
            c.query_row(
                "SELECT password_hash FROM users WHERE name = ?1 AND disabled_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// The account replaces its own password: only if its hash is still `checked` (an admin's
    /// reset, a disable or another change in between wins: `Unauthenticated`). Every session of
    /// it ends and a new one opens for the caller, audited, in one transaction.
    pub fn replace_password(
        &self,
        name: &str,
        checked: &str,
        new_hash: &str,
        ttl_minutes: u64,
    ) -> Result<Session> {
        let _forget = ForgetSessions(self);
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = 0 \
                 WHERE name = ?1 AND password_hash = ?3 AND disabled_at IS NULL",
                params![name, new_hash, checked],
            )?;
            if changed == 0 {
                return Err(Error::Unauthenticated);
            }
            let revoked = tx.execute("DELETE FROM sessions WHERE user_name = ?1", [name])?;
            crate::audit::append(
                tx,
                self.vault(),
                self.now_ms(),
                name,
                "user.password_changed",
                None,
                &serde_json::json!({"name": name, "sessions_revoked": revoked}),
            )?;
            let (token, expires) = open_session(tx, name, ttl_minutes, self.now_ms())?;
            let a = account(tx, name)?;
            Ok(Session {
                token,
                user: User {
                    name: a.name,
                    role: a.role,
                    must_change_password: false,
                },
                expires_at: rfc3339(expires),
            })
        })
    }

    /// What a sign-in as `name` checks, if the account exists.
    pub fn sign_in_row(&self, name: &str) -> Result<Option<SignInRow>> {
        let row: Option<(String, String, bool, bool)> = self.read(|c| {
            c.query_row(
                "SELECT role, password_hash, disabled_at IS NOT NULL, must_change_password \
                 FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })?;
        row.map(|(role, password_hash, disabled, must_change_password)| {
            Ok(SignInRow {
                role: role.parse()?,
                password_hash,
                disabled,
                must_change_password,
            })
        })
        .transpose()
    }

    /// Opens a session for an account whose password was checked, records the sign-in time and
    /// a `login` audit entry carrying `detail` (where it came from), in one transaction.
    pub fn open_sign_in(
        &self,
        name: &str,
        row: &SignInRow,
        ttl_minutes: u64,
        detail: &serde_json::Value,
    ) -> Result<Session> {
        self.write(|tx| {
            let (token, expires) = open_session(tx, name, ttl_minutes, self.now_ms())?;
            tx.execute(
                "UPDATE users SET last_login_at = ?2 WHERE name = ?1",
                params![name, self.now_ms()],
            )?;
            crate::audit::append(tx, self.vault(), self.now_ms(), name, "login", None, detail)?;
            Ok(Session {
                token,
                user: User {
                    name: name.to_string(),
                    role: row.role,
                    must_change_password: row.must_change_password,
                },
                expires_at: rfc3339(expires),
            })
        })
    }

    /// The user behind a session token, if the session exists, has not expired and its account
    /// is enabled.
    pub fn session_user(&self, token: &str) -> Result<User> {
        match self.session_user_kept(token) {
            Some(user) => Ok(user),
            None => self.session_user_read(token),
        }
    }

    /// [`Store::session_user`] read from the database (kept, when sessions may be: see
    /// `sessions.rs`), for a caller that found none kept.
    pub fn session_user_read(&self, token: &str) -> Result<User> {
        let key = token_hash(token);
        let now = self.now_ms();
        let seen = self.sessions.generation();
        // Every request asks: one statement, read alone.
        let row: Option<(String, String, bool, i64)> = self.query_alone(
            "SELECT u.name, u.role, u.must_change_password, s.expires_at FROM sessions s \
             JOIN users u ON u.name = s.user_name \
             WHERE s.token_sha256 = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
            params![key, now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let (name, role, must_change_password, expires_at) = row.ok_or(Error::Unauthenticated)?;
        let user = User {
            name,
            role: role.parse()?,
            must_change_password,
        };
        if let Some(seen) = seen {
            self.sessions.keep(key, user.clone(), expires_at, now, seen);
        }
        Ok(user)
    }

    /// The account behind a session token as this instance kept it from a check a moment ago
    /// (no database read: see `sessions.rs` for when one is kept); None when it must be read.
    pub fn session_user_kept(&self, token: &str) -> Option<User> {
        self.sessions.get(&token_hash(token), self.now_ms())
    }

    /// Ends the session of this token (nothing when there is none).
    pub fn logout(&self, token: &str) -> Result<()> {
        let _forget = ForgetSessions(self);
        self.write(|c| {
            c.execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                [token_hash(token)],
            )?;
            Ok(())
        })
    }

    /// When a throttle key (an address, or a name from an address, as the caller spells it)
    /// failed since `since` (unix ms), oldest first; at most the latest 100. Every instance on the
    /// database counts the same failures.
    pub fn sign_in_failures(&self, key: &str, since: i64) -> Result<Vec<i64>> {
        let tag = self.vault.tag("sign-in", key);
        let mut at = self.read(|c| {
            c.query_map(
                "SELECT at FROM sign_in_failures WHERE key = ?1 AND at > ?2 ORDER BY at DESC LIMIT 100",
                params![tag, since],
                |r| r.get::<i64>(0),
            )
        })?;
        at.reverse();
        Ok(at)
    }

    /// Counts one failure of each key at `at`; failures older than a day go.
    pub fn record_sign_in_failure(&self, keys: &[&str], at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_failures WHERE at < ?1",
                params![at.saturating_sub(FAILURES_KEPT_MS)],
            )?;
            for key in keys {
                tx.execute(
                    "INSERT INTO sign_in_failures (key, at) VALUES (?1, ?2)",
                    params![self.vault.tag("sign-in", key), at],
                )?;
            }
            Ok(())
        })
    }

    /// Forgets a key's failures (a successful sign-in of that name from that address).
    pub fn clear_sign_in_failures(&self, key: &str) -> Result<()> {
        let tag = self.vault.tag("sign-in", key);
        self.write(|tx| {
            tx.execute("DELETE FROM sign_in_failures WHERE key = ?1", params![tag])?;
            Ok(())
        })
    }
}
