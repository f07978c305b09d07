//! Dates on a document: readings of a date in any of the forms documents print (day/month
//! order decided by the MRZ, the issuing state or the locale), two-digit years placed by kind,
//! age, and the flags for birth, expiry and issue dates.

use super::*;

/// How a two-digit year is placed: not after the day of receipt, or within 50 years of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DateKind {
    Past,
    Expiry,
}

pub(super) fn two_digit_year(
    yy: u32,
    month: u8,
    day: u8,
    kind: DateKind,
    received: Date,
) -> Option<Date> {
    let text = format!("{yy:02}{month:02}{day:02}");
    match kind {
        DateKind::Past => mrz::birth_date_from(&text, received),
        DateKind::Expiry => mrz::expiry_date_from(&text, received),
    }
}

pub(super) const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

pub(super) fn month_of(token: &str) -> Option<u8> {
    if token.chars().all(|c| c.is_ascii_digit()) {
        return token.parse::<u8>().ok().filter(|m| (1..=12).contains(m));
    }
    if token.len() < 3 || !token.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let abbrev = token.get(..3)?;
    MONTHS
        .iter()
        .position(|m| *m == abbrev)
        .and_then(|i| u8::try_from(i + 1).ok())
}

pub(super) fn digits_of(token: &str, max_len: usize) -> Option<u32> {
    if token.is_empty() || token.len() > max_len || !token.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// A date in any of the formats seen on documents: "12.03.1985", "1985-03-12", "12/03/1985",
/// "850312", "19850312", "12 MAR 1985" (also two-digit years, placed by `kind`). "12/01/2008"
/// reads both ways; "12/25/2008" only month first; a dotted date is always day first.
pub(super) fn parse_date(text: &str, kind: DateKind, received: Date) -> Option<Reading> {
    let upper = text.trim().to_uppercase();
    // An ISO timestamp: keep the date.
    let t = match upper.split_once('T') {
        Some((d, _)) if d.len() == 10 && d.chars().all(|c| c.is_ascii_digit() || c == '-') => d,
        _ => upper.as_str(),
    };
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        let n = |a: usize, b: usize| t.get(a..b).and_then(|s| s.parse::<u32>().ok());
        let small = |v: u32| u8::try_from(v).ok();
        let date = match t.len() {
            6 => two_digit_year(n(0, 2)?, small(n(2, 4)?)?, small(n(4, 6)?)?, kind, received),
            8 => {
                let ymd_first = i32::try_from(n(0, 4)?)
                    .ok()
                    .and_then(|y| mrz::ymd(y, small(n(4, 6)?)?, small(n(6, 8)?)?));
                ymd_first.or_else(|| {
                    mrz::ymd(
                        i32::try_from(n(4, 8)?).ok()?,
                        small(n(2, 4)?)?,
                        small(n(0, 2)?)?,
                    )
                })
            }
            _ => None,
        };
        return date.map(Reading::One);
    }
    let tokens: Vec<&str> = t
        .split(|c: char| matches!(c, '.' | '/' | '-' | ',') || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    let [a, b, c] = tokens[..] else {
        return None;
    };
    let numeric = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let on = |year: &str, month: &str, day: &str| -> Option<Date> {
        let month = month_of(month)?;
        let day = u8::try_from(digits_of(day, 2)?).ok()?;
        match year.len() {
            4 => mrz::ymd(i32::try_from(digits_of(year, 4)?).ok()?, month, day),
            2 => two_digit_year(digits_of(year, 2)?, month, day, kind, received),
            _ => None,
        }
    };
    if a.len() == 4 && numeric(a) {
        return on(a, b, c).map(Reading::One); // "1985-03-12"
    }
    if !numeric(a) && month_of(a).is_some() {
        return on(c, a, b).map(Reading::One); // "MAR 12 1985"
    }
    if !(numeric(a) && numeric(b)) {
        return on(c, b, a).map(Reading::One); // "12 MAR 1985"
    }
    // "12.01.2008": dotted dates are day first everywhere.
    if t.contains('.') {
        return on(c, b, a).map(Reading::One);
    }
    // "12/01/2008": day first in most of the world, month first in the United States.
    match (on(c, b, a), on(c, a, b)) {
        (Some(day_first), Some(month_first)) if day_first != month_first => Some(Reading::Either {
            day_first,
            month_first,
        }),
        (Some(d), _) | (None, Some(d)) => Some(Reading::One(d)),
        (None, None) => None,
    }
}

/// A date as read from a document's text: one date, or two when day and month can be swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    One(Date),
    Either { day_first: Date, month_first: Date },
}

impl Reading {
    pub(super) fn dates(self) -> impl Iterator<Item = Date> {
        let (a, b) = match self {
            Reading::One(d) => (d, None),
            Reading::Either {
                day_first,
                month_first,
            } => (day_first, Some(month_first)),
        };
        std::iter::once(a).chain(b)
    }

    /// The one reading `order` picks; still both when the order is not known.
    pub(super) fn resolve(self, order: Option<Order>) -> Reading {
        match (self, order) {
            (Reading::Either { day_first, .. }, Some(Order::DayFirst)) => Reading::One(day_first),
            (Reading::Either { month_first, .. }, Some(Order::MonthFirst)) => {
                Reading::One(month_first)
            }
            (r, _) => r,
        }
    }

    /// The reading that is the same day as `reference`, if one is.
    fn matching(self, reference: Option<Date>) -> Option<Date> {
        self.dates().find(|d| Some(*d) == reference)
    }

    pub(super) fn display(self) -> String {
        match self {
            Reading::One(d) => dotted(d),
            Reading::Either {
                day_first,
                month_first,
            } => format!("{} or {}", dotted(day_first), dotted(month_first)),
        }
    }
}

/// Which comes first in a document's numeric dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    DayFirst,
    MonthFirst,
}

/// States whose documents print the month first (ICAO codes).
pub(super) const MONTH_FIRST_STATES: [&str; 6] = ["USA", "PHL", "FSM", "PLW", "MHL", "BLZ"];
/// Windows locale ids (`field_locales`) whose dates put the month first: en-US, en-PH, en-BZ.
pub(super) const MONTH_FIRST_LOCALES: [&str; 3] = ["1033", "13321", "10249"];

/// The date order of a document: from its issuing state (the MRZ's, else `Issuing state code`),
/// else from its national locales (`field_locales` and the locales of its field details; "0",
/// Latin, says nothing); `None` when nothing says.
pub(super) fn date_order(doc: &Document, mrz: Option<&Mrz>) -> Option<Order> {
    let state = mrz
        .map(|m| m.issuing_state.trim_matches('<').to_uppercase())
        .filter(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()))
        .or_else(|| {
            final_value(doc, &["Issuing state code"])
                .and_then(parse_code)
                .filter(|s| s.len() == 3)
        });
    if let Some(state) = state {
        return Some(if MONTH_FIRST_STATES.contains(&state.as_str()) {
            Order::MonthFirst
        } else {
            Order::DayFirst
        });
    }
    let info_locales = doc
        .document_info
        .iter()
        .flat_map(|i| i.field_locales.keys());
    let locales: Vec<&str> = info_locales
        .chain(doc.identity_data_details.keys())
        .map(|k| k.trim())
        .filter(|k| !k.is_empty() && *k != "0")
        .collect();
    if locales.is_empty() {
        None
    } else if locales.iter().any(|l| MONTH_FIRST_LOCALES.contains(l)) {
        Some(Order::MonthFirst)
    } else {
        Some(Order::DayFirst)
    }
}

/// Whole years from `birth` to `on`.
pub(super) fn age_on(birth: Date, on: Date) -> i64 {
    let mut age = i64::from(on.year()) - i64::from(birth.year());
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

/// The same day `years` earlier (29 February becomes 28 February).
pub(super) fn years_before(d: Date, years: i32) -> Option<Date> {
    let y = d.year() - years;
    let m = u8::from(d.month());
    mrz::ymd(y, m, d.day()).or_else(|| mrz::ymd(y, m, d.day().saturating_sub(1)))
}

/// One of a document's dates for the checks.
pub(super) struct DateField {
    label: &'static str,
    /// Its name in the MRZ's check digits (`None`: the MRZ has no such date).
    mrz_check: Option<&'static str>,
    names: &'static [&'static str],
    kind: DateKind,
    /// Which reading of an ambiguous date the checks assume (the one that raises a flag sooner),
    /// or none (the date is not checked).
    cautious: fn(Date, Date) -> Option<Date>,
}

pub(super) const BIRTH: DateField = DateField {
    label: "Date of birth",
    mrz_check: Some("date of birth"),
    names: &["Date of birth"],
    kind: DateKind::Past,
    cautious: |a, b| Some(a.max(b)),
};
pub(super) const EXPIRY: DateField = DateField {
    label: "Date of expiry",
    mrz_check: Some("date of expiry"),
    names: &["Date of expiry"],
    kind: DateKind::Expiry,
    cautious: |a, b| Some(a.min(b)),
};
pub(super) const ISSUE: DateField = DateField {
    label: "Date of issue",
    mrz_check: None,
    names: &["Date of issue"],
    kind: DateKind::Past,
    cautious: |_, _| None,
};

/// A date from the MRZ when its check digit holds, else from `identity_data` (read in the
/// document's date order, or as the MRZ's reading when it reads both ways), else from the MRZ
/// anyway. A date that stays ambiguous gets a `date_ambiguous` flag and its cautious reading.
pub(super) fn pick_date(
    doc: &Document,
    mrz: Option<&Mrz>,
    field: &DateField,
    order: Option<Order>,
    received: Date,
    flags: &mut Vec<Flag>,
) -> Option<Date> {
    let from_mrz = mrz.and_then(|m| match (field.mrz_check, field.kind) {
        (None, _) => None,
        (Some(_), DateKind::Past) => m.birth_date_on(received),
        (Some(_), DateKind::Expiry) => m.expiry_date_on(received),
    });
    let trusted = field
        .mrz_check
        .is_some_and(|c| mrz.is_some_and(|m| m.check(c).is_none_or(|c| c.ok())));
    if trusted && from_mrz.is_some() {
        return from_mrz;
    }
    let sent = final_value(doc, field.names);
    let Some(reading) = sent.and_then(|v| parse_date(v, field.kind, received)) else {
        return from_mrz;
    };
    match reading.resolve(order) {
        Reading::One(d) => Some(d),
        either => either.matching(from_mrz).or_else(|| {
            let Reading::Either {
                day_first,
                month_first,
            } = either
            else {
                return None;
            };
            let assumed = (field.cautious)(day_first, month_first);
            flags.push(Flag::new(
                "date_ambiguous",
                Severity::Warning,
                format!(
                    "{} \"{}\" reads as {} and nothing on the document says which; {}",
                    field.label,
                    shown(sent.unwrap_or_default()),
                    either.display(),
                    match assumed {
                        Some(d) => format!("the checks assume {}", dotted(d)),
                        None => "it is not checked".into(),
                    }
                ),
            ));
            assumed
        }),
    }
}

pub(super) fn date_flags(
    doc: &Document,
    mrz: Option<&Mrz>,
    received: Date,
    policy: &DocumentPolicy,
    flags: &mut Vec<Flag>,
) {
    let order = date_order(doc, mrz);
    let birth = pick_date(doc, mrz, &BIRTH, order, received, flags);
    let expiry = pick_date(doc, mrz, &EXPIRY, order, received, flags);
    let issue = pick_date(doc, mrz, &ISSUE, order, received, flags);
    let impossible = |message: String| Flag::new("date_impossible", Severity::Error, message);

    if let Some(e) = expiry {
        if e < received {
            flags.push(Flag::new(
                "document_expired",
                Severity::Error,
                format!(
                    "The document expired on {}, before it was received on {}",
                    dotted(e),
                    dotted(received)
                ),
            ));
        } else {
            let days = (e - received).whole_days();
            if days <= policy.expiring_days {
                flags.push(Flag::new(
                    "document_expiring",
                    Severity::Warning,
                    format!(
                        "The document expires on {}, {days} days after it was received",
                        dotted(e)
                    ),
                ));
            }
        }
    }
    if let Some(b) = birth {
        if b > received {
            flags.push(impossible(format!(
                "The date of birth {} is after the day the document was received",
                dotted(b)
            )));
        } else if years_before(received, 130).is_some_and(|limit| b < limit) {
            flags.push(impossible(format!(
                "The date of birth {} is more than 130 years ago",
                dotted(b)
            )));
        } else {
            let age = age_on(b, received);
            if age < i64::from(policy.minimum_age) {
                flags.push(Flag::new(
                    "under_age",
                    Severity::Error,
                    format!(
                        "The holder was {age} when the document was received; the minimum age is {}",
                        policy.minimum_age
                    ),
                ));
            }
        }
    }
    if let (Some(b), Some(i)) = (birth, issue) {
        if b > i {
            flags.push(impossible(format!(
                "The date of birth {} is after the date of issue {}",
                dotted(b),
                dotted(i)
            )));
        }
    }
    if let (Some(e), Some(i)) = (expiry, issue) {
        if e < i {
            flags.push(impossible(format!(
                "The date of expiry {} is before the date of issue {}",
                dotted(e),
                dotted(i)
            )));
        }
    }
}
