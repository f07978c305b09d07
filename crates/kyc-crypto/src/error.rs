//! The one error type of the crypto crate: what failed, never the key or the plaintext.

/// Everything that can go wrong opening, deriving or signing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A sealed value fails its tag: damaged, or sealed under another key, case or field.
    #[error("sealed data is damaged or under another key")]
    Damaged,
    /// A value opened fine but is not as long as its kind must be.
    #[error("case {case_id}: bad {what} length")]
    BadLength {
        /// What was opened ("case key", "image hash").
        what: &'static str,
        /// The case it belongs to.
        case_id: i64,
    },
    /// A sealed value opened but is not the JSON or text it was sealed as.
    #[error("sealed value does not decode: {0}")]
    Encoding(String),
    /// Argon2 refused its inputs.
    #[error("argon2: {0}")]
    KeyDerivation(String),
    /// OAuth2 client authentication failed (RFC 6749 §5.2 `invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// A bearer token that is not one of ours, expired, or otherwise invalid.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// The token could not be signed.
    #[error("jwt: {0}")]
    Signing(String),
}
