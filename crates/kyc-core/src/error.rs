//! The one error type of the core crate; the server and the app map it once at their edges.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    /// The configuration is wrong; the message names the key.
    #[error("config: {0}")]
    Config(String),
    /// The submission is not acceptable; `field` names where (a JSON path).
    #[error("{field}: {message}")]
    InvalidPayload { field: String, message: String },
    /// The body is not JSON at all.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// Same requester_id, different body.
    #[error("requester_id {0} was already submitted with a different body")]
    Conflict(String),
    #[error("case {0} not found")]
    NotFound(String),
    #[error("case {0} is already decided")]
    AlreadyDecided(String),
    /// The role may not do this (the message says who may).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The case is assigned to this other reviewer.
    #[error("this case is assigned to {0}")]
    AssignedElsewhere(String),
    /// Ditto ID is still waiting on this case's answer.
    #[error("Ditto ID is still waiting on case {0}; try again once it is answered")]
    Held(String),
    /// Four-eyes: the second approval must come from a different person.
    #[error("four-eyes: this case needs a second approval by a different reviewer")]
    FourEyes,
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid username or password")]
    BadCredentials,
    /// Too many failed logins for this name: try again after this many seconds.
    #[error("too many failed sign-ins; try again in {0} s")]
    TooManyAttempts(i64),
    #[error("session missing or expired")]
    Unauthenticated,
    #[error("user {0} already exists")]
    UserExists(String),
    #[error("no account named {0}")]
    UnknownUser(String),
    /// The password is right but an admin disabled the account.
    #[error("this account is disabled; ask an admin")]
    AccountDisabled,
    /// The change would leave no enabled admin account.
    #[error("refused: it would leave no enabled admin account")]
    LastAdmin,
    /// The password rule refused it; the message says why (never the password).
    #[error("{0}")]
    WeakPassword(String),
    /// An admin reset this account's password: it must choose a new one first.
    #[error("choose a new password first (POST /api/me/password)")]
    PasswordChangeRequired,
    /// The first-run setup code is missing or wrong.
    #[error("the setup code is missing or wrong; use the one `kyc-desk serve` printed")]
    BadSetupCode,
    /// OAuth2 client authentication failed (RFC 6749 §5.2 `invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// RFC 6749 §5.2 `invalid_request`.
    #[error("{0}")]
    InvalidTokenRequest(String),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// A bearer token that is not one of ours, expired, or otherwise invalid.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// The body could not be opened (decryption, encoding or not JSON after decryption): one
    /// uniform error, so nothing distinguishes padding from tag from encoding failures.
    #[error("the body could not be decrypted with the configured key")]
    Undecryptable,
    /// The store failed (the database or its files): the caller's 500.
    #[error("storage: {0}")]
    Storage(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A backup that cannot be written, or one that is not whole and is refused.
    #[error("backup: {0}")]
    Backup(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::InvalidPayload {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A serde error message without the value that was sent: `invalid type: string "+4479...",
/// expected a boolean` becomes `invalid type, expected a boolean`. Used wherever a message about
/// a caller's JSON is returned: a mistyped field may hold personal data (a phone number).
pub fn redact_serde_message(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg,
    };
    for kind in ["invalid type", "invalid value", "unknown variant"] {
        if let Some(rest) = msg.strip_prefix(kind) {
            return match rest.find(", expected") {
                Some(i) => format!("{kind}{}", &rest[i..]),
                None => kind.to_string(),
            };
        }
    }
    if msg.starts_with("invalid length")
        || msg.starts_with("missing field")
        || msg.starts_with("unknown field")
        || msg.starts_with("duplicate field")
        || !msg.contains(['"', '`', '\''])
    {
        msg.to_string()
    } else {
        "invalid value".to_string()
    }
}

impl From<kyc_domain::roles::UnknownRole> for CoreError {
    fn from(e: kyc_domain::roles::UnknownRole) -> CoreError {
        CoreError::BadRequest(e.to_string())
    }
}

impl From<kyc_domain::checks::Unjustified> for CoreError {
    fn from(e: kyc_domain::checks::Unjustified) -> CoreError {
        CoreError::BadRequest(e.0)
    }
}

impl From<kyc_store::Error> for CoreError {
    fn from(e: kyc_store::Error) -> CoreError {
        use kyc_store::Error as S;
        match e {
            S::Config(m) => CoreError::Config(m),
            S::Conflict(m) => CoreError::Conflict(m),
            S::NotFound(m) => CoreError::NotFound(m),
            S::AlreadyDecided(m) => CoreError::AlreadyDecided(m),
            S::Held(m) => CoreError::Held(m),
            S::AssignedElsewhere(m) => CoreError::AssignedElsewhere(m),
            S::FourEyes => CoreError::FourEyes,
            S::BadRequest(m) => CoreError::BadRequest(m),
            S::UserExists(m) => CoreError::UserExists(m),
            S::UnknownUser(m) => CoreError::UnknownUser(m),
            S::LastAdmin => CoreError::LastAdmin,
            S::Unauthenticated => CoreError::Unauthenticated,
            S::Backup(m) => CoreError::Backup(m),
            S::Io(e) => CoreError::Io(e),
            S::Storage(e) => CoreError::Storage(e),
            S::NoRow => CoreError::Storage("no row".into()),
            S::Internal(m) => CoreError::Internal(m),
        }
    }
}

impl From<kyc_crypto::Error> for CoreError {
    fn from(e: kyc_crypto::Error) -> CoreError {
        match e {
            kyc_crypto::Error::InvalidClient => CoreError::InvalidClient,
            kyc_crypto::Error::InvalidToken => CoreError::InvalidToken,
            other => CoreError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_serde_message as r;

    #[test]
    fn serde_messages_keep_the_expectation_and_drop_the_value() {
        let table = [
            (
                "invalid type: string \"+447911123456\", expected a boolean at line 1 column 30",
                "invalid type, expected a boolean",
            ),
            (
                "invalid value: integer `-5`, expected u32",
                "invalid value, expected u32",
            ),
            (
                "unknown variant `maybe@x.com`, expected `approve` or `reject`",
                "unknown variant, expected `approve` or `reject`",
            ),
            ("missing field `decision`", "missing field `decision`"),
            (
                "invalid length 3, expected 2",
                "invalid length 3, expected 2",
            ),
            (
                "trailing characters at line 1 column 9",
                "trailing characters",
            ),
            ("custom: \"jane@example.com\" is odd", "invalid value"),
        ];
        for (input, want) in table {
            assert_eq!(r(input), want, "{input}");
        }
    }
}
