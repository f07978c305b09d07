//! KYC Desk core, the desk: opening what Ditto ID sends, KYC Desk's own checks, the decision
//! loop, accounts' rules, reports, statistics and exports, over the store (kyc-store). No GUI, no
//! HTTP and no SQL here.

pub mod access;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod desk;
pub mod ditto;
pub mod error;
pub mod export;
pub mod guard;
pub mod ingest;
pub mod phash;
pub mod picture;
pub mod presence;
pub mod report;
pub mod stats;
pub mod users;
pub mod view;

pub use error::CoreError;

// The store's file helpers: the desk writes its config and key files with them too.
pub use kyc_store::fsutil;
