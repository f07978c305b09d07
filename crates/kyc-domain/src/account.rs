//! Reviewer accounts as the APIs send them: the signed-in user with what its role permits, an
//! account as admins list it, and a fresh session.

use serde::Serialize;

use crate::roles::{Permission, Role};

/// A signed-in account. It is sent with what its role permits (`permissions`, see [`UserView`]).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "UserView")]
pub struct User {
    /// The account's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// An admin reset the password: the account must choose a new one before anything else.
    pub must_change_password: bool,
}

/// A signed-in account as the API sends it: [`User`] and what its role permits.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// The account's name.
    pub name: String,
    /// Its role.
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
    /// The account's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// An admin disabled it: it cannot sign in.
    pub disabled: bool,
    /// An admin reset its password: it must choose a new one at its next sign-in.
    pub must_change_password: bool,
    /// RFC 3339; `None` when the account never signed in.
    pub last_login_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// A fresh login: the bearer token (shown once) and who it belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The bearer token (the store keeps only its hash).
    pub token: String,
    /// Who signed in.
    pub user: User,
    /// RFC 3339.
    pub expires_at: String,
}
