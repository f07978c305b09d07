//! The wall clock, read in one place (clippy.toml's disallowed methods), and the time helpers of
//! kyc-domain's `time` re-exported beside it.

use time::OffsetDateTime;

pub use kyc_domain::time::*;

/// Now, in unix milliseconds.
#[allow(clippy::disallowed_methods)] // The one reading of the wall clock (clippy.toml).
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Seconds since the Unix epoch (token times).
pub fn now_secs() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

/// Today's date (UTC) as (year, month, day).
pub fn today() -> (i32, u32, u32) {
    let t = at(now_ms());
    (t.year(), u8::from(t.month()) as u32, t.day() as u32)
}
