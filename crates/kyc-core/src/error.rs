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
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid username or password")]
    BadCredentials,
    #[error("session missing or expired")]
    Unauthenticated,
    #[error("user {0} already exists")]
    UserExists(String),
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
