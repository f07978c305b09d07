//! The client crate's one error type; `code()` is what the desktop window's connect screen gets.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClientError {
    /// The server address is not `https://host[:port]`.
    #[error("{0}")]
    BadServer(String),
    /// The fingerprint typed or configured is not a SHA-256 fingerprint.
    #[error("the fingerprint must be a SHA-256 fingerprint: 32 hex bytes, e.g. AB:CD:… as the server prints it")]
    BadFingerprint,
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server's certificate is not the pinned one: the handshake was aborted, so not one byte
    /// of a request (no password, no session) went to it.
    #[error(
        "The server at {server} presented a certificate with fingerprint {got}, not the pinned \
         {expected}. Nothing was sent to it. If its certificate was replaced on purpose, ask its \
         admin for the new fingerprint and connect again; otherwise someone may be intercepting \
         the connection."
    )]
    Mismatch {
        server: String,
        expected: String,
        got: String,
    },
    #[error("the relay for the desk window: {0}")]
    Relay(#[from] std::io::Error),
}

impl ClientError {
    /// A stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::BadServer(_) => "bad_server",
            ClientError::BadFingerprint => "bad_fingerprint",
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Mismatch { .. } => "certificate_mismatch",
            ClientError::Relay(_) => "relay",
        }
    }
}
