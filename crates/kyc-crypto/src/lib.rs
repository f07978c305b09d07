//! KYC Desk's ciphers and keys: Java JCE's AES suites for Ditto ID's bodies, the vault that seals
//! each case at rest, the master key, and the OAuth2 token issuer. It knows no configuration file,
//! no database and no clock: callers pass settings, key bytes and the time in.

pub mod error;
pub mod jce;
pub mod master;
pub mod token;
pub mod vault;

pub use error::Error;
pub use secrecy::{ExposeSecret, SecretString};
