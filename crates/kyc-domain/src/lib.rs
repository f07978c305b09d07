//! KYC Desk's domain, pure: what a Ditto ID submission says and the rules that read it, with no
//! I/O, no clock, no environment, no tokio and no SQL (kyc-tidy checks the absences): the payload
//! model and the opened submission, ICAO 9303 MRZ parsing with its check digits, transliteration
//! and text folding, the names of sources, locales and fields, flags and the history findings,
//! KYC Desk's own checks (`checks`, `idcheck`), the decision policy, the answer's shape, roles and
//! permissions, accounts and the case types the APIs send, the audit chain's maths and the doors'
//! throttle rules.

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
pub mod time;
pub mod translit;
