//! ICAO 9303 machine readable zones (TD1 cards, TD2, TD3 passports): parsing, check digits and
//! the century pivots of their two-digit years. Any input is accepted without panicking.

use thiserror::Error;
use time::{Date, Month};

/// The three ICAO 9303 MRZ layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MrzFormat {
    /// ID-1 size cards: 3 lines of 30 characters (ICAO 9303 part 5).
    Td1,
    /// ID-2 size documents: 2 lines of 36 characters (part 6); also MRV-B visas.
    Td2,
    /// Passport data pages: 2 lines of 44 characters (part 4); also MRV-A visas.
    Td3,
}

impl MrzFormat {
    /// Number of lines.
    pub fn lines(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            MrzFormat::Td2 | MrzFormat::Td3 => 2,
        }
    }

    /// Characters per line.
    pub fn line_len(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 => 36,
            MrzFormat::Td3 => 44,
        }
    }

    /// "TD1", "TD2" or "TD3".
    pub fn name(self) -> &'static str {
        match self {
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::Td3 => "TD3",
        }
    }
}

/// One check digit: what the data gives (`expected`) against what is printed (`found`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitCheck {
    /// "document number", "date of birth", "date of expiry", "optional data" or "composite".
    pub field: &'static str,
    /// The digit the data gives (ICAO 9303 weights 7, 3, 1).
    pub expected: char,
    /// The digit printed in the MRZ.
    pub found: char,
    /// Where the printed digit is: line and column, from 0, in [`Mrz::lines`].
    pub at: (usize, usize),
}

impl DigitCheck {
    /// Whether the printed digit is the one the data gives.
    pub fn ok(&self) -> bool {
        self.expected == self.found
    }
}

/// A parsed MRZ. Text fields have their fillers removed; names have fillers turned into spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    /// TD1 (ID card, 3×30), TD2 (2×36) or TD3 (passport, 2×44).
    pub format: MrzFormat,
    /// Document code without trailing filler: "P", "I", "ID", "AC", "V"...
    pub document_code: String,
    /// Issuing state or organisation, three letters as printed ("D", "UTO" with fillers removed).
    pub issuing_state: String,
    /// The full document number, including the part a TD1/TD2 long number puts in the optional
    /// data (ICAO 9303 part 5 §4.2.2 note j).
    pub document_number: String,
    /// TD1 line 1 optional data (after a long document number), TD2 optional data, TD3 personal
    /// number. Trailing fillers removed, inner fillers kept.
    pub optional_data: String,
    /// TD1 line 2 optional data; empty for TD2 and TD3.
    pub optional_data_2: String,
    /// YYMMDD as printed (may contain `<` for unknown parts).
    pub birth_date: String,
    /// 'M', 'F', or 'X' (also for the filler `<`); other characters as printed.
    pub sex: char,
    /// YYMMDD as printed.
    pub expiry_date: String,
    /// Nationality, three letters as printed (fillers removed).
    pub nationality: String,
    /// Primary identifier, fillers as spaces ("GARCIA LOPEZ").
    pub surname: String,
    /// Secondary identifier, fillers as spaces ("ANNA MARIA").
    pub given_names: String,
    /// The name field is full (no trailing filler), so the names may have been truncated.
    pub names_may_be_truncated: bool,
    /// Every check digit of the layout, passing or not.
    pub checks: Vec<DigitCheck>,
    /// The lines as read (upper case, no separators): what [`DigitCheck::at`] points into.
    pub lines: Vec<String>,
}

impl Mrz {
    /// The check digits that do not match.
    pub fn failed_checks(&self) -> impl Iterator<Item = &DigitCheck> {
        self.checks.iter().filter(|c| !c.ok())
    }

    /// True when every check digit matches.
    pub fn is_valid(&self) -> bool {
        self.checks.iter().all(DigitCheck::ok)
    }

    /// The check of one field, if the layout has it.
    pub fn check(&self, field: &str) -> Option<&DigitCheck> {
        self.checks.iter().find(|c| c.field == field)
    }

    /// The date of birth, its century chosen so that it is not after `reference`.
    pub fn birth_date_on(&self, reference: Date) -> Option<Date> {
        birth_date_from(&self.birth_date, reference)
    }

    /// The date of expiry, its century chosen within 50 years of `reference`.
    pub fn expiry_date_on(&self, reference: Date) -> Option<Date> {
        expiry_date_from(&self.expiry_date, reference)
    }
}

/// What is wrong with an MRZ text, in one line (positions only, never the content).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MrzError {
    /// No MRZ text at all.
    #[error("the MRZ is empty")]
    Empty,
    /// Neither 2 nor 3 lines.
    #[error("the MRZ has {found} lines; TD1 has 3, TD2 and TD3 have 2")]
    LineCount {
        /// How many lines there are.
        found: usize,
    },
    #[error(
        "the MRZ is one line of {found} characters; joined lines have 90 (TD1), 72 (TD2) or 88 (TD3)"
    )]
    /// One line whose length is no format's lines joined.
    SingleLine {
        /// Its length in characters.
        found: usize,
    },
    /// A line of the wrong length for the format the line count says.
    #[error("MRZ line {line} has {found} characters, expected {expected}")]
    LineLength {
        /// The line, from 1.
        line: usize,
        /// Its length in characters.
        found: usize,
        /// The lengths the format allows, in words.
        expected: &'static str,
    },
    /// A character the MRZ alphabet does not have.
    #[error("MRZ line {line}, character {position} is not A-Z, 0-9 or '<'")]
    BadCharacter {
        /// The line, from 1.
        line: usize,
        /// The character's position in the line, from 1.
        position: usize,
    },
}

/// Value of one MRZ character: digits as themselves, `A`..`Z` = 10..35, `<` (and anything else) 0.
fn char_value(c: char) -> u32 {
    match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        _ => 0,
    }
}

/// ICAO 9303 check digit: weights 7, 3, 1 repeating, sum modulo 10, as a character '0'..='9'.
pub fn check_digit(s: &str) -> char {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let sum = s
        .chars()
        .zip(WEIGHTS.iter().cycle())
        .fold(0u32, |acc, (c, w)| (acc + char_value(c) * w) % 10);
    char::from(b'0' + sum as u8)
}

/// Checks `data` against the printed `found`; a `<` digit is accepted for an all-filler field.
fn digit_check(field: &'static str, data: &str, found: char, at: (usize, usize)) -> DigitCheck {
    let expected = if found == '<' && data.chars().all(|c| c == '<') {
        '<'
    } else {
        check_digit(data)
    };
    DigitCheck {
        field,
        expected,
        found,
        at,
    }
}

/// Substring by (ASCII) positions; empty instead of a panic when out of range.
fn sub(s: &str, from: usize, to: usize) -> &str {
    s.get(from..to).unwrap_or("")
}

fn at(s: &str, i: usize) -> char {
    s.as_bytes().get(i).map_or('<', |b| char::from(*b))
}

fn strip(s: &str) -> String {
    s.trim_matches('<').to_string()
}

fn strip_end(s: &str) -> String {
    s.trim_end_matches('<').to_string()
}

/// Fillers to single spaces, trimmed.
fn words(s: &str) -> String {
    s.split('<')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Primary and secondary identifiers of a name field, and whether the field is full.
fn names(field: &str) -> (String, String, bool) {
    let full = !field.ends_with('<');
    match field.split_once("<<") {
        Some((primary, secondary)) => (words(primary), words(secondary), full),
        None => (words(field), String::new(), full),
    }
}

fn sex(c: char) -> char {
    if c == '<' {
        'X'
    } else {
        c
    }
}

/// Splits, trims and upper-cases the text into lines (no validation of their content yet).
fn split_lines(text: &str) -> Result<Vec<Vec<char>>, MrzError> {
    let lines: Vec<Vec<char>> = text
        .split(['\n', '\r', '^'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().map(|c| c.to_ascii_uppercase()).collect())
        .collect();
    match lines.len() {
        0 => Err(MrzError::Empty),
        1 => {
            let line = &lines[0];
            let chunk = match line.len() {
                90 => 30,
                72 => 36,
                88 => 44,
                _ => 0,
            };
            if chunk > 0 {
                return Ok(line.chunks(chunk).map(<[char]>::to_vec).collect());
            }
            // Lines separated by spaces instead of line breaks.
            let text: String = line.iter().collect();
            let parts: Vec<Vec<char>> = text
                .split_whitespace()
                .map(|p| p.chars().collect())
                .collect();
            let fits = matches!(
                parts.iter().map(Vec::len).collect::<Vec<_>>()[..],
                [30, 30, 30] | [36, 36] | [44, 44]
            );
            if fits {
                Ok(parts)
            } else if matches!(line.len(), 30 | 36 | 44) {
                Err(MrzError::LineCount { found: 1 })
            } else {
                Err(MrzError::SingleLine { found: line.len() })
            }
        }
        _ => Ok(lines),
    }
}

/// Finds the layout and checks every line's length and characters.
fn validate(lines: Vec<Vec<char>>) -> Result<(MrzFormat, Vec<String>), MrzError> {
    let format = match lines.len() {
        3 => MrzFormat::Td1,
        2 => match lines[0].len() {
            44 => MrzFormat::Td3,
            36 => MrzFormat::Td2,
            found => {
                return Err(MrzError::LineLength {
                    line: 1,
                    found,
                    expected: "36 (TD2) or 44 (TD3)",
                })
            }
        },
        found => return Err(MrzError::LineCount { found }),
    };
    let expected = match format {
        MrzFormat::Td1 => "30 (TD1)",
        MrzFormat::Td2 => "36 (TD2)",
        MrzFormat::Td3 => "44 (TD3)",
    };
    for (i, line) in lines.iter().enumerate() {
        if line.len() != format.line_len() {
            return Err(MrzError::LineLength {
                line: i + 1,
                found: line.len(),
                expected,
            });
        }
    }
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        if let Some(p) = line
            .iter()
            .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<'))
        {
            return Err(MrzError::BadCharacter {
                line: i + 1,
                position: p + 1,
            });
        }
        out.push(line.into_iter().collect());
    }
    Ok((format, out))
}

/// Document number and its check from the 9-character field, its printed check character and the
/// optional data that may continue a long number. Returns (number, check, rest of optional data).
/// `printed_at` and `optional_at` are where the printed check and the optional data start.
fn document_number(
    field: &str,
    printed: char,
    optional: &str,
    printed_at: (usize, usize),
    optional_at: (usize, usize),
) -> (String, DigitCheck, String) {
    let run: &str = optional.split('<').next().unwrap_or("");
    if printed == '<' && !run.is_empty() {
        // Long number: the rest is in the optional data, followed by the check digit.
        let split = run.len() - 1;
        let number = format!("{field}{}", sub(run, 0, split));
        let check = digit_check(
            "document number",
            &number,
            at(run, split),
            (optional_at.0, optional_at.1 + split),
        );
        let rest = strip(sub(optional, run.len(), optional.len()));
        (number, check, rest)
    } else {
        let check = digit_check("document number", field, printed, printed_at);
        (strip_end(field), check, strip_end(optional))
    }
}

fn parse_td1(l: &[String]) -> Mrz {
    let (l1, l2, l3) = (l[0].as_str(), l[1].as_str(), l[2].as_str());
    let (document_number, number_check, optional_data) = document_number(
        sub(l1, 5, 14),
        at(l1, 14),
        sub(l1, 15, 30),
        (0, 14),
        (0, 15),
    );
    let composite = format!(
        "{}{}{}{}",
        sub(l1, 5, 30),
        sub(l2, 0, 7),
        sub(l2, 8, 15),
        sub(l2, 18, 29)
    );
    let (surname, given_names, names_may_be_truncated) = names(sub(l3, 0, 30));
    Mrz {
        format: MrzFormat::Td1,
        document_code: strip_end(sub(l1, 0, 2)),
        issuing_state: strip(sub(l1, 2, 5)),
        document_number,
        optional_data,
        optional_data_2: strip_end(sub(l2, 18, 29)),
        birth_date: sub(l2, 0, 6).to_string(),
        sex: sex(at(l2, 7)),
        expiry_date: sub(l2, 8, 14).to_string(),
        nationality: strip(sub(l2, 15, 18)),
        surname,
        given_names,
        names_may_be_truncated,
        lines: Vec::new(),
        checks: vec![
            number_check,
            digit_check("date of birth", sub(l2, 0, 6), at(l2, 6), (1, 6)),
            digit_check("date of expiry", sub(l2, 8, 14), at(l2, 14), (1, 14)),
            digit_check("composite", &composite, at(l2, 29), (1, 29)),
        ],
    }
}

/// TD2 and TD3 share line 2 up to the date of expiry; TD3 adds a checked personal number.
fn parse_two_line(format: MrzFormat, l: &[String]) -> Mrz {
    let (l1, l2) = (l[0].as_str(), l[1].as_str());
    let len = format.line_len();
    let visa = l1.starts_with('V');
    let mut checks = Vec::new();
    let (document_number, number_check, optional_data) = if format == MrzFormat::Td2 && !visa {
        document_number(sub(l2, 0, 9), at(l2, 9), sub(l2, 28, 35), (1, 9), (1, 28))
    } else {
        let check = digit_check("document number", sub(l2, 0, 9), at(l2, 9), (1, 9));
        let optional_end = if visa || format == MrzFormat::Td2 {
            len
        } else {
            42
        };
        (
            strip_end(sub(l2, 0, 9)),
            check,
            strip_end(sub(l2, 28, optional_end)),
        )
    };
    checks.push(number_check);
    checks.push(digit_check(
        "date of birth",
        sub(l2, 13, 19),
        at(l2, 19),
        (1, 19),
    ));
    checks.push(digit_check(
        "date of expiry",
        sub(l2, 21, 27),
        at(l2, 27),
        (1, 27),
    ));
    if !visa {
        if format == MrzFormat::Td3 {
            checks.push(digit_check(
                "optional data",
                sub(l2, 28, 42),
                at(l2, 42),
                (1, 42),
            ));
        }
        let composite = format!(
            "{}{}{}",
            sub(l2, 0, 10),
            sub(l2, 13, 20),
            sub(l2, 21, len - 1)
        );
        checks.push(digit_check(
            "composite",
            &composite,
            at(l2, len - 1),
            (1, len - 1),
        ));
    }
    let (surname, given_names, names_may_be_truncated) = names(sub(l1, 5, len));
    Mrz {
        format,
        document_code: strip_end(sub(l1, 0, 2)),
        issuing_state: strip(sub(l1, 2, 5)),
        document_number,
        optional_data,
        optional_data_2: String::new(),
        birth_date: sub(l2, 13, 19).to_string(),
        sex: sex(at(l2, 20)),
        expiry_date: sub(l2, 21, 27).to_string(),
        nationality: strip(sub(l2, 10, 13)),
        surname,
        given_names,
        names_may_be_truncated,
        checks,
        lines: Vec::new(),
    }
}

/// Parses an MRZ: its lines joined by "\n" or "\r\n" (or "^"), or concatenated without separators
/// (90, 72 or 88 characters). Surrounding spaces and lower case are tolerated.
pub fn parse(text: &str) -> Result<Mrz, MrzError> {
    let (format, lines) = validate(split_lines(text)?)?;
    let mut mrz = match format {
        MrzFormat::Td1 => parse_td1(&lines),
        MrzFormat::Td2 | MrzFormat::Td3 => parse_two_line(format, &lines),
    };
    mrz.lines = lines;
    Ok(mrz)
}

/// (YY, MM, DD) of six digits.
fn yymmdd(s: &str) -> Option<(i32, u8, u8)> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize| sub(s, a, a + 2).parse::<u8>().ok();
    Some((i32::from(n(0)?), n(2)?, n(4)?))
}

/// A calendar date, or `None` when it does not exist.
pub fn ymd(year: i32, month: u8, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// A YYMMDD date of birth: the latest century that does not put it after `reference`.
pub fn birth_date_from(text: &str, reference: Date) -> Option<Date> {
    let (yy, m, d) = yymmdd(text)?;
    let year = reference.year() - (reference.year() - yy).rem_euclid(100);
    match ymd(year, m, d) {
        Some(date) if date <= reference => Some(date),
        _ => ymd(year - 100, m, d),
    }
}

/// A YYMMDD date of expiry: the century that puts it after 50 years before `reference` and at
/// most 50 years after it.
pub fn expiry_date_from(text: &str, reference: Date) -> Option<Date> {
    let (yy, m, d) = yymmdd(text)?;
    let top = reference.year() + 50;
    let year = top - (top - yy).rem_euclid(100);
    let (rm, rd) = (u8::from(reference.month()), reference.day());
    let limit = ymd(top, rm, rd).or_else(|| ymd(top, rm, rd.saturating_sub(1)));
    match ymd(year, m, d) {
        Some(date) if limit.is_none_or(|l| date <= l) => Some(date),
        _ => ymd(year - 100, m, d),
    }
}

/// The ICAO 9303 specimen MRZs (valid), shared by the tests of this module and of `idcheck`.
#[cfg(test)]
pub(crate) mod specimens {
    pub const TD3: &str =
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
    pub const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
    pub const TD2: &str =
        "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6";
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    use crate::mrz::specimens::{TD1, TD2, TD3};

    /// Replaces the character at (line, column) (both 0-based) of an MRZ text.
    fn with_char(text: &str, line: usize, col: usize, c: char) -> String {
        text.split('\n')
            .enumerate()
            .map(|(i, l)| {
                if i == line {
                    l.chars()
                        .enumerate()
                        .map(|(j, x)| if j == col { c } else { x })
                        .collect()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<String>>()
            .join("\n")
    }

    /// The printed digit plus one (mod 10).
    fn bump(text: &str, line: usize, col: usize) -> String {
        let l = text.split('\n').nth(line).unwrap();
        let d = l.chars().nth(col).unwrap().to_digit(10).unwrap();
        with_char(text, line, col, char::from_digit((d + 1) % 10, 10).unwrap())
    }

    #[test]
    fn check_digits_of_the_specimens() {
        for (data, digit) in [
            ("L898902C3", '6'),
            ("740812", '2'),
            ("120415", '9'),
            ("ZE184226B<<<<<", '1'),
            ("D23145890", '7'),
            ("<<<<<<", '0'),
            ("", '0'),
            ("L898902C3674081221204159ZE184226B<<<<<1", '0'),
            ("D231458907<<<<<<<<<<<<<<<74081221204159<<<<<<<<<<<", '6'),
            ("D231458907740812212041590<<<<<<", '6'),
            ("l898902c3", '6'),
            ("é€\u{0}", '0'),
        ] {
            assert_eq!(check_digit(data), digit, "{data}");
        }
    }

    #[test]
    fn parses_the_three_specimens() {
        struct Case {
            text: &'static str,
            format: MrzFormat,
            code: &'static str,
            number: &'static str,
            optional: &'static str,
            checks: usize,
        }
        for c in [
            Case {
                text: TD3,
                format: MrzFormat::Td3,
                code: "P",
                number: "L898902C3",
                optional: "ZE184226B",
                checks: 5,
            },
            Case {
                text: TD1,
                format: MrzFormat::Td1,
                code: "I",
                number: "D23145890",
                optional: "",
                checks: 4,
            },
            Case {
                text: TD2,
                format: MrzFormat::Td2,
                code: "I",
                number: "D23145890",
                optional: "",
                checks: 4,
            },
        ] {
            let m = parse(c.text).unwrap_or_else(|e| panic!("{}: {e}", c.text));
            assert_eq!(m.format, c.format);
            assert!(m.is_valid(), "{:?}", m.checks);
            assert_eq!(m.checks.len(), c.checks);
            assert_eq!(m.document_code, c.code);
            assert_eq!(m.issuing_state, "UTO");
            assert_eq!(m.nationality, "UTO");
            assert_eq!(m.document_number, c.number);
            assert_eq!(m.optional_data, c.optional);
            assert_eq!(m.optional_data_2, "");
            assert_eq!(m.birth_date, "740812");
            assert_eq!(m.expiry_date, "120415");
            assert_eq!(m.sex, 'F');
            assert_eq!(m.surname, "ERIKSSON");
            assert_eq!(m.given_names, "ANNA MARIA");
            assert!(!m.names_may_be_truncated);
            let on = date!(2011 - 01 - 01);
            assert_eq!(m.birth_date_on(on), Some(date!(1974 - 08 - 12)));
            assert_eq!(m.expiry_date_on(on), Some(date!(2012 - 04 - 15)));
            // Other spellings of the same zone.
            let crlf = c.text.replace('\n', "\r\n");
            let joined = c.text.replace('\n', "");
            let lower = format!("  {}\n\n", c.text.to_lowercase().replace('\n', " \n  "));
            let spaced = c.text.replace('\n', " ");
            for other in [crlf, joined, lower, spaced] {
                assert_eq!(parse(&other).as_ref(), Ok(&m), "{other:?}");
            }
        }
    }

    #[test]
    fn finds_each_wrong_check_digit() {
        // (specimen, line, column of the printed digit, field)
        let cases = [
            (TD3, 1, 9, "document number"),
            (TD3, 1, 19, "date of birth"),
            (TD3, 1, 27, "date of expiry"),
            (TD3, 1, 42, "optional data"),
            (TD3, 1, 43, "composite"),
            (TD1, 0, 14, "document number"),
            (TD1, 1, 6, "date of birth"),
            (TD1, 1, 14, "date of expiry"),
            (TD1, 1, 29, "composite"),
            (TD2, 1, 9, "document number"),
            (TD2, 1, 19, "date of birth"),
            (TD2, 1, 27, "date of expiry"),
            (TD2, 1, 35, "composite"),
        ];
        for (text, line, col, field) in cases {
            let bad = bump(text, line, col);
            let m = parse(&bad).unwrap();
            let failed: Vec<&DigitCheck> = m.failed_checks().collect();
            // A changed field digit also changes the composite (except the composite itself).
            let expected_fields: Vec<&str> = if field == "composite" || field == "optional data" {
                if field == "optional data" {
                    vec!["optional data", "composite"]
                } else {
                    vec!["composite"]
                }
            } else {
                vec![field, "composite"]
            };
            let got: Vec<&str> = failed.iter().map(|c| c.field).collect();
            assert_eq!(got, expected_fields, "{bad}");
            let c = m.check(field).unwrap();
            let printed = bad.split('\n').nth(line).unwrap().chars().nth(col).unwrap();
            assert_eq!(c.found, printed);
            assert_ne!(c.expected, c.found);
            // It says where the digit is, in the lines as read.
            assert_eq!(c.at, (line, col), "{field} in {bad}");
            assert_eq!(m.lines[line].chars().nth(col), Some(printed));
        }
        // A field changed but its digit left alone: that field's check and the composite fail.
        let m = parse(&with_char(TD3, 1, 0, 'X')).unwrap();
        let got: Vec<&str> = m.failed_checks().map(|c| c.field).collect();
        assert_eq!(got, ["document number", "composite"]);
    }

    #[test]
    fn td3_personal_number_digit_may_be_filler() {
        let empty = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159<<<<<<<<<<<<<<";
        let composite = check_digit("L898902C3674081221204159<<<<<<<<<<<<<<<");
        for digit in ['<', '0'] {
            let text = format!("{empty}{digit}{composite}");
            let m = parse(&text).unwrap();
            assert!(m.is_valid(), "{:?}", m.checks);
            assert_eq!(m.optional_data, "");
        }
        // A '<' digit for a non-empty personal number is wrong.
        let m = parse(&with_char(TD3, 1, 42, '<')).unwrap();
        let c = m.check("optional data").unwrap();
        assert_eq!((c.expected, c.found), ('1', '<'));
    }

    #[test]
    fn long_document_numbers() {
        // TD1: "D23145890" + "1234", check digit after the overflow, then a filler, then data.
        let number = "D231458901234";
        let check = check_digit(number);
        let l1 = format!("I<UTOD23145890<1234{check}<ABC<<<<<<");
        assert_eq!(l1.len(), 30);
        let l2_head = "7408122F1204159UTO<<<<<<<<<<<";
        let composite = check_digit(&format!(
            "{}{}{}{}",
            &l1[5..30],
            &l2_head[0..7],
            &l2_head[8..15],
            &l2_head[18..29]
        ));
        let text = format!("{l1}\n{l2_head}{composite}\nERIKSSON<<ANNA<MARIA<<<<<<<<<<");
        let m = parse(&text).unwrap();
        assert!(m.is_valid(), "{:?}", m.checks);
        assert_eq!(m.document_number, number);
        assert_eq!(m.optional_data, "ABC");
        // A wrong long-number digit is reported on the document number.
        let wrong = if check == '9' { '0' } else { '8' };
        let bad = text.replacen(&format!("1234{check}"), &format!("1234{wrong}"), 1);
        let m = parse(&bad).unwrap();
        let c = m.check("document number").unwrap();
        assert_eq!((c.expected, c.found), (check, wrong));
        assert_eq!(
            c.at,
            (0, 19),
            "the digit after the overflow, not the filler at 14"
        );

        // TD2: the same scheme in the optional data of line 2.
        let l2 = format!("D23145890<UTO7408122F12041591234{check}<<");
        let composite = check_digit(&format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..35]));
        let text = format!("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n{l2}{composite}");
        let m = parse(&text).unwrap();
        assert!(m.is_valid(), "{:?}", m.checks);
        assert_eq!(m.document_number, number);
        assert_eq!(m.check("document number").unwrap().at, (1, 32));
    }

    #[test]
    fn names_and_sex() {
        let (s, g, full) = names("GARCIA<LOPEZ<<JOSE<MARIA<<<<<<");
        assert_eq!(
            (s.as_str(), g.as_str(), full),
            ("GARCIA LOPEZ", "JOSE MARIA", false)
        );
        let (s, g, full) = names("WOLFESCHLEGELSTEINHAUSENBERGER");
        assert_eq!(
            (s.as_str(), g.as_str(), full),
            ("WOLFESCHLEGELSTEINHAUSENBERGER", "", true)
        );
        let (s, g, _) = names("<<<<<<<<");
        assert_eq!((s.as_str(), g.as_str()), ("", ""));
        let m = parse(&with_char(TD3, 1, 20, '<')).unwrap();
        assert_eq!(m.sex, 'X');
    }

    #[test]
    fn visas_have_no_composite() {
        let l2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<<<";
        let text = format!("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n{l2}");
        let m = parse(&text).unwrap();
        assert!(m.is_valid(), "{:?}", m.checks);
        assert_eq!(m.checks.len(), 3);
        assert_eq!(m.optional_data, "ZE184226B");
    }

    #[test]
    fn explains_what_is_wrong() {
        let cases: Vec<(String, MrzError)> = vec![
            ("".into(), MrzError::Empty),
            ("  \n \r\n ".into(), MrzError::Empty),
            (
                TD3.split('\n').next().unwrap().into(),
                MrzError::LineCount { found: 1 },
            ),
            (format!("{TD1}\n{TD1}"), MrzError::LineCount { found: 6 }),
            ("garbage".into(), MrzError::SingleLine { found: 7 }),
            (
                TD3.replace("<10", "<1"),
                MrzError::LineLength {
                    line: 2,
                    found: 43,
                    expected: "44 (TD3)",
                },
            ),
            (
                format!("{TD3}<"),
                MrzError::LineLength {
                    line: 2,
                    found: 45,
                    expected: "44 (TD3)",
                },
            ),
            (
                TD1.replacen("<6\n", "6\n", 1),
                MrzError::LineLength {
                    line: 2,
                    found: 29,
                    expected: "30 (TD1)",
                },
            ),
            (
                TD2.replace("ERIKSSON", "ERIKSON"),
                MrzError::LineLength {
                    line: 1,
                    found: 35,
                    expected: "36 (TD2) or 44 (TD3)",
                },
            ),
            (
                TD2.replace("UTO7408", "UTO740"),
                MrzError::LineLength {
                    line: 2,
                    found: 35,
                    expected: "36 (TD2)",
                },
            ),
            (
                with_char(TD3, 0, 6, 'É'),
                MrzError::BadCharacter {
                    line: 1,
                    position: 7,
                },
            ),
            (
                with_char(TD1, 2, 3, ' '),
                MrzError::BadCharacter {
                    line: 3,
                    position: 4,
                },
            ),
            (
                with_char(TD2, 1, 35, '-'),
                MrzError::BadCharacter {
                    line: 2,
                    position: 36,
                },
            ),
        ];
        for (text, err) in cases {
            let got = parse(&text).unwrap_err();
            assert_eq!(got, err, "{text:?}");
            let msg = got.to_string();
            assert!(!msg.contains('\n') && !msg.is_empty(), "{msg}");
            assert!(!msg.contains("ERIKSSON"), "{msg}");
        }
        assert_eq!(
            MrzError::LineLength {
                line: 2,
                found: 43,
                expected: "44 (TD3)"
            }
            .to_string(),
            "MRZ line 2 has 43 characters, expected 44 (TD3)"
        );
    }

    #[test]
    fn century_pivots() {
        let on = date!(2025 - 06 - 01);
        for (text, birth, expiry) in [
            (
                "740812",
                Some(date!(1974 - 08 - 12)),
                Some(date!(2074 - 08 - 12)),
            ),
            (
                "250601",
                Some(date!(2025 - 06 - 01)),
                Some(date!(2025 - 06 - 01)),
            ),
            (
                "250602",
                Some(date!(1925 - 06 - 02)),
                Some(date!(2025 - 06 - 02)),
            ),
            (
                "750601",
                Some(date!(1975 - 06 - 01)),
                Some(date!(2075 - 06 - 01)),
            ),
            (
                "750602",
                Some(date!(1975 - 06 - 02)),
                Some(date!(1975 - 06 - 02)),
            ),
            (
                "000229",
                Some(date!(2000 - 02 - 29)),
                Some(date!(2000 - 02 - 29)),
            ),
            ("010229", None, None),
            ("851301", None, None),
            ("85<<<<", None, None),
            ("8506", None, None),
            ("８５０６０１", None, None),
        ] {
            assert_eq!(birth_date_from(text, on), birth, "{text}");
            assert_eq!(expiry_date_from(text, on), expiry, "{text}");
        }
        // 29 February 2000 seen from before it happened: 1900 was no leap year.
        assert_eq!(birth_date_from("000229", date!(2000 - 01 - 01)), None);
    }

    /// Deterministic garbage around the interesting shapes: never a panic.
    #[test]
    fn never_panics() {
        const ALPHABET: &[char] = &[
            '<', 'A', 'z', '0', '9', '\n', '\r', ' ', '^', 'é', 'Ä', '€', '😀', '\u{301}', '\t',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = [TD1, TD2, TD3];
        for i in 0..20_000 {
            let text: String = if i % 2 == 0 {
                let len = [29, 30, 31, 36, 44, 72, 88, 90, 91][(next() % 9) as usize];
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            } else {
                // A specimen with a few characters replaced.
                let mut chars: Vec<char> = base[(next() % 3) as usize].chars().collect();
                for _ in 0..(next() % 4) {
                    let pos = (next() % chars.len() as u64) as usize;
                    chars[pos] = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
                }
                chars.into_iter().collect()
            };
            if let Ok(m) = parse(&text) {
                let on = date!(2025 - 06 - 01);
                let _ = (m.birth_date_on(on), m.expiry_date_on(on), m.is_valid());
            }
            let _ = check_digit(&text);
        }
    }
}
