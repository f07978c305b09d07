//! The desktop app's client mode: a team's KYC Desk server reached over HTTPS with its
//! certificate pinned by SHA-256 fingerprint ([`pin`]), and the loopback relay the desk window
//! opens in place of the server ([`relay`]). Nothing here stores cases or keys: in client mode a
//! computer holds only its config file.

pub mod error;
pub mod pin;
pub mod relay;

pub use error::ClientError;
pub use pin::{probe, Server};
pub use relay::Relay;
