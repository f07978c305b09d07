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
    #[error("storage: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
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
