//! Reviewer accounts (argon2id password hashes, a strength rule), their lifecycle (disable,
//! role change, reset with a forced change; never deleted: the audit trail names them) and
//! sign-in sessions (random tokens, stored hashed), which every account change revokes.

use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use rand::RngCore;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use std::net::IpAddr;

use crate::error::CoreError;
use crate::guard::{AuditNote, LoginGuard, SetupCode};
use crate::store::Store;
use crate::timefmt::now_ms;

// Roles and the permission table moved to kyc-domain (issue 17); re-exported while the callers move.
pub use kyc_domain::roles::{Permission, Role};

/// A signed-in account. It is sent with what its role permits (`permissions`, see [`UserView`]).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "UserView")]
pub struct User {
    pub name: String,
    pub role: Role,
    /// An admin reset the password: the account must choose a new one before anything else.
    pub must_change_password: bool,
}

/// A signed-in account as the API sends it: [`User`] and what its role permits.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    /// An admin reset the password: the account must choose a new one before anything else.
    pub must_change_password: bool,
    /// What the account may do beyond reading cases (the server's one permission table).
    pub permissions: Vec<Permission>,
}

impl From<User> for UserView {
    fn from(u: User) -> UserView {
        UserView {
            permissions: u.role.permissions(),
            name: u.name,
            role: u.role,
            must_change_password: u.must_change_password,
        }
    }
}

/// An account as admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub must_change_password: bool,
    /// RFC 3339; `None` when the account never signed in.
    pub last_login_at: Option<String>,
    pub created_at: String,
}

/// A fresh login: the bearer token (shown once) and who it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub token: String,
    pub user: User,
    pub expires_at: String,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Longest user name (also the bound on what a sign-in attempt may carry).
pub const MAX_NAME: usize = 64;

/// Checks a user name: 1 to 64 letters, digits, '.', '_', '-', '@'.
pub fn check_name(name: &str) -> Result<(), CoreError> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(CoreError::BadRequest(
            "user name: 1 to 64 characters of letters, digits, '.', '_', '-', '@'".into(),
        ))
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted (bytes): hashing has a cost, a sign-in body a bound.
pub const MAX_PASSWORD: usize = 1024;

/// The password rule: at least 12 characters and not easy to guess (zxcvbn score 3 or more,
/// knowing the account's name); the error says why.
pub fn check_password(name: &str, password: &str) -> Result<(), CoreError> {
    let weak = |why: String| Err(CoreError::WeakPassword(format!("password: {why}")));
    if password.chars().count() < MIN_PASSWORD {
        return weak(format!("use at least {MIN_PASSWORD} characters"));
    }
    if password.len() > MAX_PASSWORD {
        return weak(format!("use at most {MAX_PASSWORD} bytes"));
    }
    // zxcvbn's cost grows with length; the first 100 characters decide.
    let probe: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&probe, &[name, "kyc", "desk", "kycdesk", "ditto"]);
    if estimate.score() >= zxcvbn::Score::Three {
        return Ok(());
    }
    let mut why = String::from("too easy to guess");
    if let Some(f) = estimate.feedback() {
        if let Some(w) = f.warning() {
            why += &format!(": {}", w.to_string().trim_end_matches('.'));
        }
        let tips: Vec<String> = f.suggestions().iter().map(|s| s.to_string()).collect();
        if !tips.is_empty() {
            why += &format!(". {}", tips.join(" "));
        }
    }
    if !why.contains("Add another word") {
        why += ". A few unrelated words make a strong password.";
    }
    weak(why)
}

/// Argon2's working memory (19 MiB at the default cost), kept and reused: hashing on whichever
/// thread a request runs on would otherwise leave a freed 19 MiB in each thread's allocator
/// arena, and a burst of sign-ins would grow the process by hundreds of MB.
static MEMORY: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());
/// Password hashes computed at once (the server's permits): memory-hard work is bounded to
/// `HASHES_AT_ONCE` x 19 MiB, whatever the number of cores.
pub const HASHES_AT_ONCE: usize = 2;
/// Buffers kept at most: one per hash that may run at once.
const KEPT_MEMORY: usize = HASHES_AT_ONCE;

fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [argon2::Block]) -> R) -> R {
    let taken = MEMORY.lock().ok().and_then(|mut pool| pool.pop());
    let mut buf = taken.unwrap_or_default();
    if buf.len() < blocks {
        buf.resize(blocks, argon2::Block::new());
    }
    let out = f(&mut buf[..blocks]);
    if let Ok(mut pool) = MEMORY.lock() {
        if pool.len() < KEPT_MEMORY {
            pool.push(buf);
        }
    }
    out
}

/// Argon2 of `password` with `salt` under `params` into `out`, in reused memory.
fn argon2_into(
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), CoreError> {
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    with_memory(blocks, |mem| {
        argon.hash_password_into_with_memory(password, salt, out, mem)
    })
    .map_err(|e| CoreError::Internal(format!("argon2: {e}")))
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with a random salt.
fn hash_password(password: &str) -> Result<String, CoreError> {
    use base64::Engine;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let params = argon2::Params::default();
    let mut out = [0u8; 32];
    argon2_into(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        b64.encode(salt),
        b64.encode(out)
    ))
}

/// Verifies `password` against `stored`, or against a dummy hash when there is no account, so
/// timing does not reveal which names exist.
fn verify_password(stored: Option<&str>, password: &str) -> Result<bool, CoreError> {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0fLhZ2vLwYdGnmW3kQ0Yw2u+0Jv0n7r7aH1nHqZ8f5Q";
    let bad = |e: &dyn std::fmt::Display| CoreError::Internal(format!("argon2: {e}"));
    let parsed = PasswordHash::new(stored.unwrap_or(DUMMY)).map_err(|e| bad(&e))?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).map_err(|e| bad(&e))?;
    let version = parsed
        .version
        .map_or(Ok(argon2::Version::V0x13), argon2::Version::try_from)
        .map_err(|e| bad(&e))?;
    let params = argon2::Params::try_from(&parsed).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(bad(&"the stored hash has no salt or output"));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| bad(&e))?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut out,
    )?;
    let same: bool = subtle::ConstantTimeEq::ct_eq(out.as_slice(), expected.as_bytes()).into();
    Ok(same && stored.is_some())
}

fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Opens a session inside `tx`; returns the token and its expiry (ms).
fn open_session(
    tx: &Transaction,
    name: &str,
    ttl_minutes: u64,
) -> Result<(String, i64), CoreError> {
    let token = new_token();
    let now = now_ms();
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

fn account_from_row(r: &rusqlite::Row) -> rusqlite::Result<(Account, String)> {
    let role: String = r.get(1)?;
    Ok((
        Account {
            name: r.get(0)?,
            role: Role::Reviewer,
            disabled: r.get(2)?,
            must_change_password: r.get(3)?,
            last_login_at: r.get::<_, Option<i64>>(4)?.map(crate::timefmt::rfc3339),
            created_at: crate::timefmt::rfc3339(r.get(5)?),
        },
        role,
    ))
}

fn account(tx: &Transaction, name: &str) -> Result<Account, CoreError> {
    let row = tx
        .query_row(
            &format!("SELECT {ACCOUNT_COLS} FROM users WHERE name = ?1"),
            [name],
            account_from_row,
        )
        .optional()?;
    let (mut a, role) = row.ok_or_else(|| CoreError::UnknownUser(name.to_string()))?;
    a.role = role.parse()?;
    Ok(a)
}

/// What an admin changes about an account.
#[derive(Debug, Clone)]
pub enum AccountChange {
    Disable,
    Enable,
    SetRole(Role),
    /// A temporary password the account must replace at its next sign-in.
    ResetPassword(String),
}

impl AccountChange {
    fn action(&self) -> &'static str {
        match self {
            AccountChange::Disable => "user.disabled",
            AccountChange::Enable => "user.enabled",
            AccountChange::SetRole(_) => "user.role_changed",
            AccountChange::ResetPassword(_) => "user.password_reset",
        }
    }
}

impl Store {
    /// Creates an account from the command line (audited as by `system`).
    pub fn add_user(&self, name: &str, role: Role, password: &str) -> Result<User, CoreError> {
        self.insert_user("system", name, role, password, false)
    }

    /// First run: creates the first admin, only while no account exists at all.
    pub fn add_first_admin(&self, name: &str, password: &str) -> Result<User, CoreError> {
        self.insert_user("setup", name, Role::Admin, password, true)
    }

    /// Creates the account and its one `user.created` audit entry (naming `actor`) in one
    /// transaction.
    fn insert_user(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        password: &str,
        only_if_first: bool,
    ) -> Result<User, CoreError> {
        check_name(name)?;
        check_password(name, password)?;
        let hash = hash_password(password)?;
        self.with_writer(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if only_if_first {
                let count: i64 = tx.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
                if count > 0 {
                    return Err(CoreError::BadRequest("setup is done: accounts exist already; sign in".into()));
                }
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), hash, now_ms()],
            )?;
            if inserted == 0 {
                return Err(CoreError::UserExists(name.to_string()));
            }
            crate::store::audit::append(&tx, self.vault(),
                actor,
                "user.created",
                None,
                &serde_json::json!({"name": name, "role": role.as_str()}),
            )?;
            tx.commit()?;
            Ok(User {
                name: name.to_string(),
                role,
                must_change_password: false,
            })
        })
    }

    /// Every account, for admins (and supervisors, who assign cases to them).
    pub fn accounts(&self) -> Result<Vec<Account>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!("SELECT {ACCOUNT_COLS} FROM users ORDER BY name"))?;
            let rows = stmt.query_map([], account_from_row)?;
            rows.map(|row| {
                let (mut a, role) = row?;
                a.role = role.parse()?;
                Ok(a)
            })
            .collect()
        })
    }

    /// An admin creates an account from the desk (recorded with who did it).
    pub fn add_user_by(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User, CoreError> {
        self.insert_user(actor, name, role, password, false)
    }

    pub fn user_count(&self) -> Result<i64, CoreError> {
        self.with_reader(|c| Ok(c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?))
    }

    /// Changes an account (`actor` is the admin, or `system` from the command line): the change,
    /// its audit entry and the revocation of every session of the account are one transaction.
    /// Refused when it would leave no enabled admin.
    pub fn change_account(
        &self,
        actor: &str,
        name: &str,
        change: AccountChange,
    ) -> Result<Account, CoreError> {
        let new_hash = match &change {
            AccountChange::ResetPassword(p) => {
                check_password(name, p)?;
                Some(hash_password(p)?)
            }
            _ => None,
        };
        self.with_writer(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let before = account(&tx, name)?;
            let mut detail = serde_json::json!({"name": name});
            match &change {
                AccountChange::Disable => {
                    tx.execute(
                        "UPDATE users SET disabled_at = COALESCE(disabled_at, ?2) WHERE name = ?1",
                        params![name, now_ms()],
                    )?;
                }
                AccountChange::Enable => {
                    tx.execute("UPDATE users SET disabled_at = NULL WHERE name = ?1", [name])?;
                }
                AccountChange::SetRole(role) => {
                    tx.execute(
                        "UPDATE users SET role = ?2 WHERE name = ?1",
                        params![name, role.as_str()],
                    )?;
                    detail["from"] = before.role.as_str().into();
                    detail["to"] = role.as_str().into();
                }
                AccountChange::ResetPassword(_) => {
                    tx.execute(
                        "UPDATE users SET password_hash = ?2, must_change_password = 1 WHERE name = ?1",
                        params![name, new_hash],
                    )?;
                }
            }
            let admins: i64 = tx.query_row(
                "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            if admins == 0 {
                return Err(CoreError::LastAdmin);
            }
            let revoked = tx.execute("DELETE FROM sessions WHERE user_name = ?1", [name])?;
            detail["sessions_revoked"] = revoked.into();
            crate::store::audit::append(&tx, self.vault(), actor, change.action(), None, &detail)?;
            let after = account(&tx, name)?;
            tx.commit()?;
            Ok(after)
        })
    }

    /// The account changes its own password (the current one proves it is them; wrong ones are
    /// throttled and audited like failed sign-ins): every session of it ends, and a new one is
    /// opened for the caller. The change applies only to the password that was checked, so an
    /// admin's reset in between wins.
    pub fn change_own_password(
        &self,
        guard: &LoginGuard,
        addr: IpAddr,
        name: &str,
        (current, new): (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        guard
            .check(name, addr, now_ms())
            .map_err(CoreError::TooManyAttempts)?;
        let stored: Option<String> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT password_hash FROM users WHERE name = ?1 AND disabled_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        if !verify_password(stored.as_deref(), current)? {
            self.count_failed_sign_in(guard, name, addr)?;
            return Err(CoreError::BadCredentials);
        }
        if new == current {
            return Err(CoreError::WeakPassword(
                "password: choose a password different from the current one".into(),
            ));
        }
        check_password(name, new)?;
        let hash = hash_password(new)?;
        self.with_writer(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = 0 \
                 WHERE name = ?1 AND password_hash = ?3 AND disabled_at IS NULL",
                params![name, hash, stored],
            )?;
            if changed == 0 {
                // Reset, disabled or changed elsewhere since the check: nothing is overwritten.
                return Err(CoreError::Unauthenticated);
            }
            let revoked = tx.execute("DELETE FROM sessions WHERE user_name = ?1", [name])?;
            crate::store::audit::append(
                &tx,
                self.vault(),
                name,
                "user.password_changed",
                None,
                &serde_json::json!({"name": name, "sessions_revoked": revoked}),
            )?;
            let (token, expires) = open_session(&tx, name, ttl_minutes)?;
            let a = account(&tx, name)?;
            tx.commit()?;
            Ok(Session {
                token,
                user: User {
                    name: a.name,
                    role: a.role,
                    must_change_password: false,
                },
                expires_at: crate::timefmt::rfc3339(expires),
            })
        })
    }

    /// Checks a password (in constant work whether or not the user exists) and opens a session.
    /// The caller throttles attempts ([`crate::guard::LoginGuard`]) and records failures.
    /// A disabled account is refused (`AccountDisabled`) only when its password was right.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        self.login_recorded(name, password, ttl_minutes, serde_json::json!({}))
    }

    /// A sign-in whose audit entry carries `detail` (where it came from).
    fn login_recorded(
        &self,
        name: &str,
        password: &str,
        ttl_minutes: u64,
        detail: serde_json::Value,
    ) -> Result<Session, CoreError> {
        check_name(name).map_err(|_| CoreError::BadCredentials)?;
        if password.len() > MAX_PASSWORD {
            return Err(CoreError::BadCredentials);
        }
        let row: Option<(String, String, bool, bool)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT role, password_hash, disabled_at IS NOT NULL, must_change_password \
                 FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
        })?;
        let ok = verify_password(row.as_ref().map(|(_, h, _, _)| h.as_str()), password)?;
        let Some((role, _, disabled, must_change)) = row.filter(|_| ok) else {
            return Err(CoreError::BadCredentials);
        };
        if disabled {
            return Err(CoreError::AccountDisabled);
        }
        self.with_writer(|c| {
            let tx = c.transaction()?;
            let (token, expires) = open_session(&tx, name, ttl_minutes)?;
            tx.execute(
                "UPDATE users SET last_login_at = ?2 WHERE name = ?1",
                params![name, now_ms()],
            )?;
            crate::store::audit::append(&tx, self.vault(), name, "login", None, &detail)?;
            tx.commit()?;
            Ok(Session {
                token,
                user: User {
                    name: name.to_string(),
                    role: role.parse()?,
                    must_change_password: must_change,
                },
                expires_at: crate::timefmt::rfc3339(expires),
            })
        })
    }

    /// The user behind a session token, if the session exists, has not expired and its account
    /// is enabled.
    pub fn session_user(&self, token: &str) -> Result<User, CoreError> {
        let row: Option<(String, String, bool)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT u.name, u.role, u.must_change_password FROM sessions s \
                 JOIN users u ON u.name = s.user_name \
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
                params![token_hash(token), now_ms()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
        })?;
        let (name, role, must_change_password) = row.ok_or(CoreError::Unauthenticated)?;
        Ok(User {
            name,
            role: role.parse()?,
            must_change_password,
        })
    }

    /// A sign-in attempt from `addr` through the door's guard: refused at once while that
    /// address (or this name from it) must wait; a failure is counted and recorded as at most one
    /// `login.failed` audit entry per name, address and minute (with the count it stands for).
    /// `user_agent`: the client's `User-Agent`, recorded (printable, at most 200 characters)
    /// with the client address in the `login` audit entry.
    pub fn login_guarded(
        &self,
        guard: &LoginGuard,
        addr: IpAddr,
        user_agent: Option<&str>,
        name: &str,
        password: &str,
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        check_name(name)?;
        guard
            .check(name, addr, now_ms())
            .map_err(CoreError::TooManyAttempts)?;
        let agent: Option<String> =
            user_agent.map(|a| a.chars().filter(|c| !c.is_control()).take(200).collect());
        let detail = serde_json::json!({"address": addr.to_string(), "user_agent": agent});
        match self.login_recorded(name, password, ttl_minutes, detail) {
            Ok(session) => {
                guard.succeeded(name, addr);
                Ok(session)
            }
            Err(e @ (CoreError::BadCredentials | CoreError::AccountDisabled)) => {
                self.count_failed_sign_in(guard, name, addr)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Counts a failed sign-in (or a wrong current password) with the guard, and writes the
    /// folded `login.failed` entry when the guard says one is due.
    fn count_failed_sign_in(
        &self,
        guard: &LoginGuard,
        name: &str,
        addr: IpAddr,
    ) -> Result<(), CoreError> {
        match guard.failed(name, addr, now_ms()) {
            AuditNote::Write { count } => self.audit_failed_logins(name, addr, count),
            AuditNote::Folded => Ok(()),
        }
    }

    /// One `login.failed` entry standing for `count` failures of `name` from `addr`.
    pub fn audit_failed_logins(
        &self,
        name: &str,
        addr: IpAddr,
        count: u64,
    ) -> Result<(), CoreError> {
        self.audit(
            name,
            "login.failed",
            None,
            serde_json::json!({"address": addr.to_string(), "count": count}),
        )
    }

    /// First run: the setup code opens the door once; wrong codes count against the address.
    /// On success the code is closed for good and the new admin signed in.
    pub fn setup_first_admin(
        &self,
        code: &SetupCode,
        guard: &LoginGuard,
        addr: IpAddr,
        typed_code: &str,
        (name, password): (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        if !code.is_open() {
            return Err(CoreError::BadRequest(
                "setup is done: accounts exist already; sign in".into(),
            ));
        }
        guard
            .check_anonymous(addr, now_ms())
            .map_err(CoreError::TooManyAttempts)?;
        if !code.matches(typed_code) {
            guard.failed_anonymous(addr, now_ms());
            return Err(CoreError::BadSetupCode);
        }
        match self.add_first_admin(name, password) {
            Ok(_) => code.close(),
            Err(e) => {
                if self.user_count()? > 0 {
                    code.close();
                }
                return Err(e);
            }
        }
        self.login(name, password, ttl_minutes)
    }

    pub fn logout(&self, token: &str) -> Result<(), CoreError> {
        self.with_writer(|c| {
            c.execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                [token_hash(token)],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_need_twelve_characters_and_must_not_be_easy_to_guess() {
        for (pw, ok) in [
            ("short", false),
            ("password1234", false),
            ("aaaaaaaaaaaaaaaa", false),
            ("qwertyuiop12", false),
            ("adaada123456", false),
            ("Password1234", false),
            ("Quiet-Harbor-Lantern-47", true),
            ("violet tractor umbrella sings", true),
        ] {
            let r = check_password("ada", pw);
            assert_eq!(r.is_ok(), ok, "{pw}: {r:?}");
            if let Err(e) = r {
                let m = e.to_string();
                assert!(m.starts_with("password: "), "{m}");
                assert!(
                    !m.contains(pw),
                    "the refusal never echoes the password: {m}"
                );
            }
        }
        assert!(check_password("ada", "short")
            .unwrap_err()
            .to_string()
            .contains("at least 12 characters"));
        assert!(check_password("ada", &"x".repeat(2000)).is_err());
    }

    #[test]
    fn hashes_are_standard_phc_strings_that_verify() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
        let ours = hash_password("Quiet-Harbor-Lantern-47").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        // The argon2 crate's own verifier accepts ours, and ours accepts its hashes.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"Quiet-Harbor-Lantern-47", &parsed)
            .is_ok());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::default()
            .hash_password(b"violet tractor umbrella", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password(Some(&theirs), "violet tractor umbrella").unwrap());
        assert!(!verify_password(Some(&theirs), "violet tractor umbrellas").unwrap());
        assert!(verify_password(Some(&ours), "Quiet-Harbor-Lantern-47").unwrap());
        assert!(!verify_password(None, "anything at all").unwrap());
    }
}
