//! Times as KYC Desk writes and reads them, pure: unix milliseconds in storage, RFC 3339 (UTC) at
//! the edges, a reader's local label with its zone, dates. No clock here: the time is passed in
//! (the desk's `Clock`; the wall clock is read in one place, kyc-store's `timefmt::now_ms`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The instant of a unix-ms time (the epoch for one out of range).
pub fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-25T10:00:00.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let t = at(ms);
    let t = t
        .replace_nanosecond((ms.rem_euclid(1000) as u32) * 1_000_000)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The offset a reader's clock is at, in minutes east of UTC, checked (UTC-14:00 to UTC+14:00).
pub fn utc_offset(minutes: i32) -> Option<time::UtcOffset> {
    if !(-14 * 60..=14 * 60).contains(&minutes) {
        return None;
    }
    time::UtcOffset::from_whole_seconds(minutes * 60).ok()
}

/// An RFC 3339 instant as a reader's local time with its zone: `2026-11-29 17:33:47 UTC+02:00`
/// (the text itself when it is not RFC 3339).
pub fn local_label(text: &str, offset: time::UtcOffset) -> String {
    let Ok(t) = OffsetDateTime::parse(text.trim(), &Rfc3339) else {
        return text.to_string();
    };
    let t = t.to_offset(offset);
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC{sign}{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}

/// The UTC year of a time in unix milliseconds.
pub fn year_of(ms: i64) -> i32 {
    at(ms).year()
}

/// Parses `YYYY-MM-DD` (midnight UTC; with `end_of_day`, the next midnight) or RFC 3339.
pub fn parse_ms(text: &str, end_of_day: bool) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &fmt).ok()?;
    let date = if end_of_day { date.next_day()? } else { date };
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The UTC calendar date of a unix-ms instant.
pub fn date_of(ms: i64) -> time::Date {
    at(ms).date()
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_labels_carry_their_zone() {
        let at = "2025-11-25T23:30:05.123Z";
        for (minutes, want) in [
            (0, "2025-11-25 23:30:05 UTC+00:00"),
            (120, "2025-11-26 01:30:05 UTC+02:00"),
            (-330, "2025-11-25 18:00:05 UTC-05:30"),
            (345, "2025-11-26 05:15:05 UTC+05:45"),
        ] {
            let offset = super::utc_offset(minutes).unwrap();
            assert_eq!(super::local_label(at, offset), want, "{minutes}");
        }
        assert!(super::utc_offset(15 * 60).is_none());
        assert!(super::utc_offset(-14 * 60 - 1).is_none());
        let utc = super::utc_offset(0).unwrap();
        assert_eq!(super::local_label("not a time", utc), "not a time");
    }

    #[test]
    fn formats_utc() {
        assert_eq!(
            super::rfc3339(1_764_064_800_123),
            "2025-11-25T10:00:00.123Z"
        );
        assert_eq!(super::year_of(1_764_064_800_123), 2025);
        assert_eq!(
            super::parse_ms("2025-11-25", false),
            Some(1_764_028_800_000)
        );
        assert_eq!(super::parse_ms("2025-11-25", true), Some(1_764_115_200_000));
        assert_eq!(
            super::parse_ms("2025-11-25T10:00:00.123Z", false),
            Some(1_764_064_800_123)
        );
        assert_eq!(super::parse_ms("25.11.2025", false), None);
    }
}
