//! The desk's accounts as the edges use them: signing in and out, the session behind a token, the
//! caller's own password, the first admin, and the admins' account changes. Every change that
//! needs a permission takes the acting user and asks the one permission table.

use std::net::IpAddr;
use std::sync::Arc;

use kyc_domain::roles::{Permission, Role};

use super::{blocking, Desk};
use crate::error::CoreError;
use crate::guard::{LoginGuard, SetupCode};
use crate::users::{Account, AccountChange, Session, User};
use crate::users::{Accounts, Attempt};

/// `by` may do `p`, or the refusal that says who may.
pub(crate) fn allowed(by: &User, p: Permission) -> Result<(), CoreError> {
    if by.role.may(p) {
        Ok(())
    } else {
        Err(CoreError::Forbidden(p.refusal()))
    }
}

/// A sign-in's credentials and where it comes from (the throttles count by name and address).
pub struct SignIn {
    /// The caller's address.
    pub addr: IpAddr,
    /// Its User-Agent, kept with the session.
    pub agent: Option<String>,
    /// The account name typed.
    pub name: String,
    /// The password typed.
    pub password: String,
}

impl Desk {
    /// A permit to hash a password (bounded memory and CPU under a flood of attempts): the doors
    /// that hash (sign-in, setup, own password) take one before they call in.
    pub async fn hash_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, CoreError> {
        (self.hashing.clone().acquire_owned().await).map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// The account a session token belongs to (refused once the session has ended).
    pub async fn session_user(&self, token: String) -> Result<User, CoreError> {
        // Kept from a check a moment ago (a shared database's instance that hears every change):
        // no thread to wait for.
        if let Some(user) = self.store.session_user_kept(&token) {
            return Ok(user);
        }
        let store = self.store.clone();
        blocking(move || store.session_user_read(&token)).await
    }

    /// Signs in through the throttles of `guard`; the session lasts `minutes`.
    pub async fn sign_in(
        &self,
        guard: Arc<LoginGuard>,
        who: SignIn,
        minutes: u64,
    ) -> Result<Session, CoreError> {
        let store = self.store.clone();
        let now = self.now_ms();
        blocking(move || {
            let SignIn {
                addr,
                agent,
                name,
                password,
            } = who;
            let at = Attempt {
                guard: &guard,
                addr,
                now,
            };
            store.login_guarded(at, agent.as_deref(), &name, &password, minutes)
        })
        .await
    }

    /// Ends the session of `token` (and the cases its account had open stop showing it).
    pub async fn sign_out(&self, token: String) -> Result<(), CoreError> {
        if let Ok(user) = self.session_user(token.clone()).await {
            self.presence().leave_all(&user.name);
            self.tell_others(vec![super::SIGNED_OUT], 0, user.name.clone());
        }
        let store = self.store.clone();
        blocking(move || store.logout(&token)).await
    }

    /// Changes the caller's own password (`passwords`: the current one, the new one); every
    /// session of the account ends and a new one is returned.
    pub async fn change_own_password(
        &self,
        guard: Arc<LoginGuard>,
        addr: IpAddr,
        by: &User,
        passwords: (String, String),
        minutes: u64,
    ) -> Result<Session, CoreError> {
        let store = self.store.clone();
        let name = by.name.clone();
        let now = self.now_ms();
        blocking(move || {
            let (current, new) = (passwords.0.as_str(), passwords.1.as_str());
            let at = Attempt {
                guard: &guard,
                addr,
                now,
            };
            store.change_own_password(at, &name, (current, new), minutes)
        })
        .await
    }

    /// Whether no account exists yet (the first start's setup is open).
    pub async fn needs_setup(&self) -> Result<bool, CoreError> {
        let store = self.store.clone();
        Ok(blocking(move || store.user_count()).await? == 0)
    }

    /// Creates the first admin with the one-time `code` (only while there is no account) and
    /// signs them in; `typed` is the code the caller sent.
    pub async fn setup_first_admin(
        &self,
        code: Arc<SetupCode>,
        guard: Arc<LoginGuard>,
        who: SignIn,
        typed: String,
        minutes: u64,
    ) -> Result<Session, CoreError> {
        let store = self.store.clone();
        let now = self.now_ms();
        blocking(move || {
            let account = (who.name.as_str(), who.password.as_str());
            let at = Attempt {
                guard: &guard,
                addr: who.addr,
                now,
            };
            store.setup_first_admin(&code, at, &typed, account, minutes)
        })
        .await
    }

    /// Records the failed sign-ins folded into one minute (one entry per name and address).
    pub async fn record_failed_sign_ins(
        &self,
        name: String,
        addr: IpAddr,
        count: u64,
    ) -> Result<(), CoreError> {
        let store = self.store.clone();
        blocking(move || store.audit_failed_logins(&name, addr, count)).await
    }

    /// The accounts (admins, and supervisors who assign cases).
    pub async fn accounts(&self, by: &User) -> Result<Vec<Account>, CoreError> {
        if !by.role.may(Permission::Reassign) {
            allowed(by, Permission::ManageUsers)?;
        }
        let store = self.store.clone();
        blocking(move || store.accounts()).await
    }

    /// An admin's change to an account: audited, and every session of the account ends (a
    /// password reset hashes under a permit).
    pub async fn change_account(
        &self,
        by: &User,
        name: String,
        change: AccountChange,
    ) -> Result<Account, CoreError> {
        allowed(by, Permission::ManageUsers)?;
        let _permit = match change {
            AccountChange::ResetPassword(_) => Some(self.hash_permit().await?),
            _ => None,
        };
        let store = self.store.clone();
        let admin = by.name.clone();
        blocking(move || store.change_account(&admin, &name, change)).await
    }

    /// Creates an account (admins; its password hashed under a permit).
    pub async fn add_user(
        &self,
        by: &User,
        name: String,
        role: Role,
        password: String,
    ) -> Result<User, CoreError> {
        allowed(by, Permission::ManageUsers)?;
        let _permit = self.hash_permit().await?;
        let store = self.store.clone();
        let admin = by.name.clone();
        blocking(move || store.add_user_by(&admin, &name, role, &password)).await
    }
}
