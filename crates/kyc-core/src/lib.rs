//! KYC Desk core: the Ditto ID payload model, validation, KYC Desk's own checks, SQLite storage,
//! reviewer accounts and the decision loop. No GUI and no HTTP here.

pub mod access;
pub mod answer;
pub mod audit;
pub mod backup;
pub mod bootstrap;
pub mod checkpoint;
pub mod checks;
pub mod config;
pub mod desk;
pub mod ditto;
pub mod error;
pub mod export;
pub mod fsutil;
pub mod guard;
pub mod imagefiles;
pub mod ingest;
pub mod notes;
pub mod phash;
pub mod picture;
pub mod presence;
pub mod report;
pub mod stats;
pub mod store;
pub mod timefmt;
pub mod users;
pub mod view;

pub use error::CoreError;
