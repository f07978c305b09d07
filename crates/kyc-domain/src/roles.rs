//! Roles and the one permission table (`Role::may`): what each kind of account may do beyond
//! reading cases. The server checks it on every call; `/api/me` lists it for the UI.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
/// What kind of account a person has; `Role::may` says what each may do.
pub enum Role {
    /// Decides cases, and takes or releases one for themself.
    Reviewer,
    /// A reviewer who also assigns cases, sees statistics, exports and resends deliveries.
    Supervisor,
    /// Everything, including accounts, the Ditto ID config and erasure.
    Admin,
    /// Reads everything, the audit trail included; decides nothing.
    Auditor,
}

impl Role {
    /// The role's name as the API and the config spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
}

/// What a role may do beyond reading cases (every role may read). `/api/me` lists the signed-in
/// account's, so the UI shows what the server would allow instead of re-deriving it from roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
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
    /// Every permission, in the order `/api/me` lists them.
    pub const ALL: [Permission; 9] = [
        Permission::Decide,
        Permission::Reassign,
        Permission::Statistics,
        Permission::ReadAudit,
        Permission::Export,
        Permission::ResendDelivery,
        Permission::ManageUsers,
        Permission::DittoConfig,
        Permission::Erase,
    ];

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

    /// Everything this role may do (the `may` table, read row-wise).
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.may(*p))
            .collect()
    }
}

/// A role name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role: use reviewer, supervisor, admin or auditor")]
pub struct UnknownRole;

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "reviewer" => Ok(Role::Reviewer),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            _ => Err(UnknownRole),
        }
    }
}
