//! Reviewer accounts (argon2id password hashes) and login sessions (random tokens, stored hashed).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CoreError;
use crate::store::Store;
use crate::timefmt::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reviewer,
    Supervisor,
    Admin,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

/// What a role may do beyond reading cases (every role may read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Approve or reject a case.
    Decide,
    /// Assign any case to anyone (a reviewer may only take or release a case for themself).
    Reassign,
    /// The statistics page.
    Statistics,
    /// The whole audit trail and its verification.
    ReadAudit,
    /// The CSV export of decisions.
    Export,
    /// Resend webhook deliveries.
    ResendDelivery,
    /// Accounts.
    ManageUsers,
    /// The Ditto ID config with its secrets.
    DittoConfig,
    /// Erase a case on request.
    Erase,
}

impl Permission {
    /// Who may, as the server says when it refuses.
    pub fn refusal(self) -> &'static str {
        match self {
            Permission::Decide => "an auditor may read, not decide",
            Permission::Reassign => "only a supervisor or an admin may assign cases to others",
            Permission::Statistics => {
                "only a supervisor, an admin or an auditor may see statistics"
            }
            Permission::ReadAudit => "only an auditor or an admin may read the audit trail",
            Permission::Export => "only a supervisor, an admin or an auditor may export decisions",
            Permission::ResendDelivery => "only a supervisor or an admin may resend deliveries",
            Permission::ManageUsers => "only an admin may manage accounts",
            Permission::DittoConfig => "only an admin may see the Ditto ID config",
            Permission::Erase => "only an admin may erase cases",
        }
    }
}

impl Role {
    /// The server's one rule table.
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Reviewer => matches!(p, Decide),
            Role::Supervisor => {
                matches!(p, Decide | Reassign | Statistics | Export | ResendDelivery)
            }
            Role::Admin => true,
            Role::Auditor => matches!(p, Statistics | ReadAudit | Export),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Role, CoreError> {
        match s {
            "reviewer" => Ok(Role::Reviewer),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            _ => Err(CoreError::BadRequest(format!(
                "unknown role {s:?}: use reviewer, supervisor, admin or auditor"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub name: String,
    pub role: Role,
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

fn check_name(name: &str) -> Result<(), CoreError> {
    let ok = (1..=64).contains(&name.len())
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
        if password.chars().count() < 10 {
            return Err(CoreError::BadRequest(
                "password: at least 10 characters".into(),
            ));
        }
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| CoreError::Internal(format!("argon2: {e}")))?
            .to_string();
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
            crate::audit::append(
                &tx,
                actor,
                "user.created",
                None,
                &serde_json::json!({"name": name, "role": role.as_str()}),
            )?;
            tx.commit()?;
            Ok(User {
                name: name.to_string(),
                role,
            })
        })
    }

    /// Every account (names and roles only).
    pub fn users(&self) -> Result<Vec<User>, CoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare("SELECT name, role FROM users ORDER BY name")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|row| {
                let (name, role) = row?;
                Ok(User {
                    name,
                    role: role.parse()?,
                })
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

    /// Checks a password (in constant work whether or not the user exists) and opens a session.
    /// After five failures for a name within 15 minutes (since its last success), that name is
    /// refused for a minute after its latest failure: guessing slows down, nobody is locked out long.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        const WINDOW_MS: i64 = 15 * 60_000;
        const LOCK_MS: i64 = 60_000;
        let (failures, last): (i64, Option<i64>) = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT count(*), max(at) FROM audit WHERE action = 'login.failed' AND actor = ?1 AND at > ?2 \
                 AND id > COALESCE((SELECT max(id) FROM audit WHERE action = 'login' AND actor = ?1), 0)",
                params![name, now_ms() - WINDOW_MS],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })?;
        if failures >= 5 {
            let wait = last.map_or(0, |at| at + LOCK_MS - now_ms());
            if wait > 0 {
                return Err(CoreError::TooManyAttempts((wait + 999) / 1000));
            }
        }
        let row: Option<(String, String)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT role, password_hash FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        // An unknown user still costs one hash, so timing does not reveal which names exist.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0fLhZ2vLwYdGnmW3kQ0Yw2u+0Jv0n7r7aH1nHqZ8f5Q";
        let stored = row.as_ref().map_or(DUMMY, |(_, h)| h.as_str());
        let parsed =
            PasswordHash::new(stored).map_err(|e| CoreError::Internal(format!("argon2: {e}")))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        let Some((role, _)) = row.filter(|_| ok) else {
            self.audit(name, "login.failed", None, serde_json::json!({}))?;
            return Err(CoreError::BadCredentials);
        };
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let now = now_ms();
        let expires = now + (ttl_minutes as i64) * 60_000;
        self.with_writer(|c| {
            c.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO sessions (token_sha256, user_name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash(&token), name, now, expires],
            )?;
            crate::audit::append(&tx, name, "login", None, &serde_json::json!({}))?;
            tx.commit()?;
            Ok(())
        })?;
        Ok(Session {
            token,
            user: User {
                name: name.to_string(),
                role: role.parse()?,
            },
            expires_at: crate::timefmt::rfc3339(expires),
        })
    }

    /// The user behind a session token, if the session exists and has not expired.
    pub fn session_user(&self, token: &str) -> Result<User, CoreError> {
        let row: Option<(String, String)> = self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT u.name, u.role FROM sessions s JOIN users u ON u.name = s.user_name \
                 WHERE s.token_sha256 = ?1 AND s.expires_at > ?2",
                params![token_hash(token), now_ms()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        let (name, role) = row.ok_or(CoreError::Unauthenticated)?;
        Ok(User {
            name,
            role: role.parse()?,
        })
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
