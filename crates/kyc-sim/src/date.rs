//! Proleptic Gregorian civil dates: day arithmetic and the formats used on documents.

/// A calendar date (no time zone, no clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Date {
    pub y: i32,
    pub m: u32,
    pub d: u32,
}

pub(crate) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// A date with month and day clamped into range.
    pub(crate) fn new(y: i32, m: u32, d: u32) -> Date {
        let m = m.clamp(1, 12);
        let d = d.clamp(1, days_in_month(y, m));
        Date { y, m, d }
    }

    /// Days since 1970-01-01 (H. Hinnant's algorithm).
    pub(crate) fn to_days(self) -> i64 {
        let y = i64::from(self.y) - i64::from(self.m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.m);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub(crate) fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
        Date { y, m, d }
    }

    pub(crate) fn add_days(self, n: i64) -> Date {
        Date::from_days(self.to_days() + n)
    }

    /// Same day and month `n` years later (29 February becomes 28 February).
    pub(crate) fn add_years(self, n: i32) -> Date {
        Date::new(self.y + n, self.m, self.d)
    }

    /// Whole years from `self` to `on`.
    pub(crate) fn age_on(self, on: Date) -> i32 {
        let mut age = on.y - self.y;
        if (on.m, on.d) < (self.m, self.d) {
            age -= 1;
        }
        age
    }

    /// "DD.MM.YYYY", as in `identity_data`.
    pub(crate) fn dotted(self) -> String {
        format!("{:02}.{:02}.{:04}", self.d, self.m, self.y)
    }

    /// "YYMMDD", as in the MRZ.
    pub(crate) fn yymmdd(self) -> String {
        format!("{:02}{:02}{:02}", self.y.rem_euclid(100), self.m, self.d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        assert_eq!(Date::new(1970, 1, 1).to_days(), 0);
        assert_eq!(Date::new(2000, 3, 1).to_days(), 11_017);
        for days in (-40_000..40_000).step_by(37) {
            assert_eq!(Date::from_days(days).to_days(), days);
        }
        let d = Date::new(1974, 8, 12);
        assert_eq!(d.yymmdd(), "740812");
        assert_eq!(d.dotted(), "12.08.1974");
        assert_eq!(Date::new(2024, 2, 29).add_years(1), Date::new(2025, 2, 28));
        assert_eq!(Date::new(2024, 2, 28).add_days(2), Date::new(2024, 3, 1));
        assert_eq!(Date::new(2000, 5, 10).age_on(Date::new(2020, 5, 9)), 19);
        assert_eq!(Date::new(2000, 5, 10).age_on(Date::new(2020, 5, 10)), 20);
        assert_eq!(Date::new(2023, 2, 30), Date::new(2023, 2, 28));
    }
}
