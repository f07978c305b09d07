//! KYC Desk's domain, pure: what a Ditto ID submission says and the rules that read it, with no
//! I/O, no clock, no environment, no tokio and no SQL (kyc-tidy checks the absences). Today: the
//! payload model, ICAO 9303 MRZ parsing with its check digits, transliteration and text folding,
//! the names of sources, locales and fields, flags, roles and permissions, the case types the APIs
//! send, and the document checks (`idcheck`); the submission checks and decision rules follow as
//! issue 17 moves them out of kyc-core.

#![deny(missing_docs)]

pub mod account;
pub mod answer;
pub mod audit;
pub mod case;
pub mod checks;
pub mod flag;
pub mod idcheck;
pub mod labels;
pub mod model;
pub mod mrz;
pub mod policy;
pub mod roles;
pub mod submission;
pub mod text;
pub mod throttle;
pub mod translit;
