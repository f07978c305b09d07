//! Reviewer accounts' rules: names, the password rule (zxcvbn), argon2id hashing in reused
//! memory, and the sign-in, password-change and first-run flows over the store's account rows
//! (`kyc_store::accounts`), throttled by the door's [`LoginGuard`]. Accounts are never deleted
//! (the audit trail names them); every change revokes the account's sessions.

use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use rand::RngCore;

use std::net::IpAddr;

use crate::error::CoreError;
use crate::guard::{AuditNote, LoginGuard, SetupCode};
use kyc_store::accounts::AccountUpdate;
use kyc_store::Store;

pub use kyc_domain::account::{Account, Session, User, UserView};
// The account types and the one permission table live in kyc-domain; the flows here use them.
pub use kyc_domain::roles::{Permission, Role};

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

/// Where and when a sign-in attempt is made: the door's guard counts it, at the desk's time.
#[derive(Clone, Copy)]
pub struct Attempt<'a> {
    /// The door's throttles.
    pub guard: &'a LoginGuard,
    /// The client's address.
    pub addr: IpAddr,
    /// Now, by the desk's clock (unix ms).
    pub now: i64,
}

/// What an admin changes about an account.
#[derive(Debug, Clone)]
pub enum AccountChange {
    /// Disable (sessions end; the name stays taken).
    Disable,
    /// Enable again.
    Enable,
    /// Give it another role.
    SetRole(Role),
    /// A temporary password the account must replace at its next sign-in.
    ResetPassword(String),
}

/// The account flows over the store: each checks its rules, hashes outside any transaction and
/// hands the store rows to write (one transaction with their audit entry).
pub trait Accounts {
    /// Creates an account from the command line (audited as by `system`).
    fn add_user(&self, name: &str, role: Role, password: &str) -> Result<User, CoreError>;
    /// First run: creates the first admin, only while no account exists at all.
    fn add_first_admin(&self, name: &str, password: &str) -> Result<User, CoreError>;
    /// An admin creates an account from the desk (recorded with who did it).
    fn add_user_by(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User, CoreError>;
    /// Changes an account (`actor` is the admin, or `system` from the command line); refused
    /// when it would leave no enabled admin.
    fn change_account(
        &self,
        actor: &str,
        name: &str,
        change: AccountChange,
    ) -> Result<Account, CoreError>;
    /// The account changes its own password (the current one proves it is them; wrong ones are
    /// throttled and audited like failed sign-ins): every session of it ends, and a new one is
    /// opened for the caller. The change applies only to the password that was checked, so an
    /// admin's reset in between wins.
    fn change_own_password(
        &self,
        at: Attempt<'_>,
        name: &str,
        passwords: (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError>;
    /// Checks a password (in constant work whether or not the user exists) and opens a session.
    /// The caller throttles attempts ([`LoginGuard`]) and records failures. A disabled account
    /// is refused (`AccountDisabled`) only when its password was right.
    fn login(&self, name: &str, password: &str, ttl_minutes: u64) -> Result<Session, CoreError>;
    /// A sign-in attempt from `addr` through the door's guard: refused at once while that
    /// address (or this name from it) must wait; a failure is counted and recorded as at most one
    /// `login.failed` audit entry per name, address and minute (with the count it stands for).
    /// `user_agent`: the client's `User-Agent`, recorded (printable, at most 200 characters)
    /// with the client address in the `login` audit entry.
    fn login_guarded(
        &self,
        at: Attempt<'_>,
        user_agent: Option<&str>,
        name: &str,
        password: &str,
        ttl_minutes: u64,
    ) -> Result<Session, CoreError>;
    /// One `login.failed` entry standing for `count` failures of `name` from `addr`.
    fn audit_failed_logins(&self, name: &str, addr: IpAddr, count: u64) -> Result<(), CoreError>;
    /// First run: the setup code opens the door once; wrong codes count against the address.
    /// On success the code is closed for good and the new admin signed in.
    fn setup_first_admin(
        &self,
        code: &SetupCode,
        at: Attempt<'_>,
        typed_code: &str,
        account: (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError>;
}

/// Checks the name and password, hashes it, and has the store create the account.
fn insert_user(
    store: &Store,
    actor: &str,
    (name, role, password): (&str, Role, &str),
    only_if_first: bool,
) -> Result<User, CoreError> {
    check_name(name)?;
    check_password(name, password)?;
    let hash = hash_password(password)?;
    Ok(store.insert_account(actor, name, role, &hash, only_if_first)?)
}

/// A sign-in whose audit entry carries `detail` (where it came from).
fn login_recorded(
    store: &Store,
    name: &str,
    password: &str,
    ttl_minutes: u64,
    detail: serde_json::Value,
) -> Result<Session, CoreError> {
    check_name(name).map_err(|_| CoreError::BadCredentials)?;
    if password.len() > MAX_PASSWORD {
        return Err(CoreError::BadCredentials);
    }
    let row = store.sign_in_row(name)?;
    let ok = verify_password(row.as_ref().map(|r| r.password_hash.as_str()), password)?;
    let Some(row) = row.filter(|_| ok) else {
        return Err(CoreError::BadCredentials);
    };
    if row.disabled {
        return Err(CoreError::AccountDisabled);
    }
    Ok(store.open_sign_in(name, &row, ttl_minutes, &detail)?)
}

/// A sign-in's throttle keys as a shared database records them: the address, and the name from
/// the address (stored as keyed tags).
fn shared_keys(name: &str, addr: IpAddr) -> [String; 2] {
    let addr = crate::guard::client_key(addr);
    [format!("address {addr}"), format!("name {addr} {name}")]
}

/// On a database several instances share, the failures all of them recorded count too: refused
/// while this address, or this name from it, must wait (one instance's memory sees only its own
/// share of a guesser's attempts behind a load balancer).
fn check_shared(store: &Store, at: Attempt<'_>, name: &str) -> Result<(), CoreError> {
    if !store.is_shared() {
        return Ok(());
    }
    let (per_address, per_name) = at.guard.limits();
    for (key, limit) in shared_keys(name, at.addr)
        .iter()
        .zip([per_address, per_name])
    {
        let failures = store.sign_in_failures(key, at.now.saturating_sub(limit.horizon_ms()))?;
        limit
            .check_failures(&failures, at.now)
            .map_err(CoreError::TooManyAttempts)?;
    }
    Ok(())
}

/// Counts a failed sign-in (or a wrong current password) with the guard (and on a shared
/// database, where every instance counts it), and writes the folded `login.failed` entry when
/// the guard says one is due.
fn count_failed_sign_in(store: &Store, at: Attempt<'_>, name: &str) -> Result<(), CoreError> {
    if store.is_shared() {
        let [address, named] = shared_keys(name, at.addr);
        store.record_sign_in_failure(&[&address, &named], at.now)?;
    }
    match at.guard.failed(name, at.addr, at.now) {
        AuditNote::Write { count } => store.audit_failed_logins(name, at.addr, count),
        AuditNote::Folded => Ok(()),
    }
}

impl Accounts for Store {
    fn add_user(&self, name: &str, role: Role, password: &str) -> Result<User, CoreError> {
        insert_user(self, "system", (name, role, password), false)
    }

    fn add_first_admin(&self, name: &str, password: &str) -> Result<User, CoreError> {
        insert_user(self, "setup", (name, Role::Admin, password), true)
    }

    fn add_user_by(
        &self,
        actor: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<User, CoreError> {
        insert_user(self, actor, (name, role, password), false)
    }

    fn change_account(
        &self,
        actor: &str,
        name: &str,
        change: AccountChange,
    ) -> Result<Account, CoreError> {
        let update = match change {
            AccountChange::ResetPassword(p) => {
                check_password(name, &p)?;
                AccountUpdate::ResetPassword {
                    hash: hash_password(&p)?,
                }
            }
            AccountChange::Disable => AccountUpdate::Disable,
            AccountChange::Enable => AccountUpdate::Enable,
            AccountChange::SetRole(role) => AccountUpdate::SetRole(role),
        };
        Ok(self.update_account(actor, name, &update)?)
    }

    fn change_own_password(
        &self,
        at: Attempt<'_>,
        name: &str,
        (current, new): (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        at.guard
            .check(name, at.addr, at.now)
            .map_err(CoreError::TooManyAttempts)?;
        check_shared(self, at, name)?;
        let stored = self.enabled_password_hash(name)?;
        if !verify_password(stored.as_deref(), current)? {
            count_failed_sign_in(self, at, name)?;
            return Err(CoreError::BadCredentials);
        }
        let Some(stored) = stored else {
            return Err(CoreError::BadCredentials);
        };
        if new == current {
            return Err(CoreError::WeakPassword(
                "password: choose a password different from the current one".into(),
            ));
        }
        check_password(name, new)?;
        let hash = hash_password(new)?;
        // Reset, disabled or changed elsewhere since the check: nothing is overwritten.
        Ok(self.replace_password(name, &stored, &hash, ttl_minutes)?)
    }

    fn login(&self, name: &str, password: &str, ttl_minutes: u64) -> Result<Session, CoreError> {
        login_recorded(self, name, password, ttl_minutes, serde_json::json!({}))
    }

    fn login_guarded(
        &self,
        at: Attempt<'_>,
        user_agent: Option<&str>,
        name: &str,
        password: &str,
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        check_name(name)?;
        at.guard
            .check(name, at.addr, at.now)
            .map_err(CoreError::TooManyAttempts)?;
        check_shared(self, at, name)?;
        let agent: Option<String> =
            user_agent.map(|a| a.chars().filter(|c| !c.is_control()).take(200).collect());
        let detail = serde_json::json!({"address": at.addr.to_string(), "user_agent": agent});
        match login_recorded(self, name, password, ttl_minutes, detail) {
            Ok(session) => {
                at.guard.succeeded(name, at.addr);
                if self.is_shared() {
                    let [_, named] = shared_keys(name, at.addr);
                    self.clear_sign_in_failures(&named)?;
                }
                Ok(session)
            }
            Err(e @ (CoreError::BadCredentials | CoreError::AccountDisabled)) => {
                count_failed_sign_in(self, at, name)?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn audit_failed_logins(&self, name: &str, addr: IpAddr, count: u64) -> Result<(), CoreError> {
        Ok(self.audit(
            name,
            "login.failed",
            None,
            serde_json::json!({"address": addr.to_string(), "count": count}),
        )?)
    }

    fn setup_first_admin(
        &self,
        code: &SetupCode,
        at: Attempt<'_>,
        typed_code: &str,
        (name, password): (&str, &str),
        ttl_minutes: u64,
    ) -> Result<Session, CoreError> {
        if !code.is_open() {
            return Err(CoreError::BadRequest(
                "setup is done: accounts exist already; sign in".into(),
            ));
        }
        at.guard
            .check_anonymous(at.addr, at.now)
            .map_err(CoreError::TooManyAttempts)?;
        if !code.matches(typed_code) {
            at.guard.failed_anonymous(at.addr, at.now);
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
