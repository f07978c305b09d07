//! The one error type of the store; kyc-core maps it into its own once (`From<kyc_store::Error>`).

use thiserror::Error;

/// What a store call can refuse or fail with. The refusals carry what the desk tells the caller;
/// the failures (`Storage`, `Io`, `Internal`) are the caller's 500.
#[derive(Debug, Error)]
pub enum Error {
    /// The store is not the one this configuration expects (a newer schema, another master key).
    #[error("config: {0}")]
    Config(String),
    /// Same requester_id, different body.
    #[error("requester_id {0} was already submitted with a different body")]
    Conflict(String),
    /// No such case (the reference or id as asked).
    #[error("case {0} not found")]
    NotFound(String),
    /// Ditto ID is still waiting on this case (its reference): a request holds it open.
    #[error("Ditto ID is still waiting on case {0}; try again once it is answered")]
    Held(String),
    /// The case has its final decision already.
    #[error("case {0} is already decided")]
    AlreadyDecided(String),
    /// The case is assigned to this other reviewer.
    #[error("this case is assigned to {0}")]
    AssignedElsewhere(String),
    /// Four-eyes: the second approval must come from a different person.
    #[error("four-eyes: this case needs a second approval by a different reviewer")]
    FourEyes,
    /// A request the store's rules refuse; the message says why.
    #[error("{0}")]
    BadRequest(String),
    /// The account name is taken.
    #[error("user {0} already exists")]
    UserExists(String),
    /// No account has this name.
    #[error("no account named {0}")]
    UnknownUser(String),
    /// The change would leave no enabled admin account.
    #[error("refused: it would leave no enabled admin account")]
    LastAdmin,
    /// No session, an expired one, or the account changed under it.
    #[error("session missing or expired")]
    Unauthenticated,
    /// A backup that cannot be written, or one that is not whole and is refused.
    #[error("backup: {0}")]
    Backup(String),
    /// A query that must find a row found none (the callers that expect this ask for an
    /// optional row instead).
    #[error("storage: no row")]
    NoRow,
    /// The database refused or failed (the backend's message; `From` its driver's error is in
    /// the backend's file).
    #[error("storage: {0}")]
    Storage(String),
    /// A file (image file, backup, checkpoint) could not be read or written.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value does not open or parse: the store is damaged or the key is wrong.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<kyc_crypto::Error> for Error {
    fn from(e: kyc_crypto::Error) -> Error {
        Error::Internal(e.to_string())
    }
}

impl From<kyc_domain::roles::UnknownRole> for Error {
    fn from(e: kyc_domain::roles::UnknownRole) -> Error {
        Error::Internal(format!("stored {e}"))
    }
}

/// The store's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
