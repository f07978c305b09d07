//! KYC Desk's domain, pure: what a Ditto ID submission says and the rules that read it, with no
//! I/O, no clock, no environment, no tokio and no SQL (kyc-tidy checks the absences). Today: the
//! payload model, ICAO 9303 MRZ parsing with its check digits, transliteration and text folding,
//! flags, and the document checks (`idcheck`); the submission checks and decision rules follow
//! as issue 17 moves them out of kyc-core.

#![deny(missing_docs)]

pub mod case;
pub mod flag;
pub mod idcheck;
pub mod labels;
// The payload's structs mirror Ditto ID's JSON field for field, under the sender's own names (its
// API documentation describes each); the structs' own docs say what KYC Desk makes of them.
// Documenting every field again is still to do (issue 17).
#[allow(missing_docs)]
pub mod model;
pub mod mrz;
pub mod roles;
pub mod text;
pub mod translit;
