//! ICAO 9303 machine readable zones: check digits, TD1 (ID cards, 3 × 30) and TD3 (passports, 2 × 44).

use crate::date::Date;
use crate::text;

/// Value of one MRZ character: digits as themselves, `A`..`Z` = 10..35, `<` (and anything else) = 0.
fn char_value(c: char) -> u32 {
    match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        _ => 0,
    }
}

/// ICAO 9303 check digit: weights 7, 3, 1 repeating, sum modulo 10.
pub fn check_digit(s: &str) -> u8 {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let sum: u32 = s
        .chars()
        .zip(WEIGHTS.iter().cycle())
        .map(|(c, w)| char_value(c) * w)
        .sum();
    (sum % 10) as u8
}

fn digit_char(d: u8) -> char {
    char::from(b'0' + d % 10)
}

/// Upper-cases, maps anything but `A-Z0-9` to `<`, then pads with `<` or truncates to `len`.
fn field(s: &str, len: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '<' })
        .take(len)
        .collect();
    while out.len() < len {
        out.push('<');
    }
    out
}

/// The name field: `SURNAME<<GIVEN<NAMES`, transliterated, filled or truncated to `len`.
pub(crate) fn name_field(surname: &str, given_names: &str, len: usize) -> String {
    let primary = text::icao(surname);
    let secondary = text::icao(given_names);
    let joined = if secondary.is_empty() {
        primary
    } else {
        format!("{primary}<<{secondary}")
    };
    field(&joined, len)
}

/// The holder and document data that go into an MRZ.
pub(crate) struct MrzFields<'a> {
    /// Document code, two characters: "I<", "ID", "CI", "P<".
    pub doc_code: &'a str,
    /// Issuing state, e.g. "LVA" or "D".
    pub issuer: &'a str,
    /// Document number (at most 9 characters used).
    pub number: &'a str,
    pub surname: &'a str,
    pub given_names: &'a str,
    pub nationality: &'a str,
    pub birth: Date,
    /// 'M', 'F' or '<'.
    pub sex: char,
    pub expiry: Date,
    /// Optional data / personal number (non-alphanumerics become `<`).
    pub optional: &'a str,
    /// Tampered documents: the document number check digit is printed off by one.
    pub tamper_number_check: bool,
}

impl MrzFields<'_> {
    fn number_and_check(&self) -> String {
        let number = field(self.number, 9);
        let mut check = check_digit(&number);
        if self.tamper_number_check {
            check = (check + 1) % 10;
        }
        format!("{number}{}", digit_char(check))
    }

    fn date_and_check(d: Date) -> String {
        let s = d.yymmdd();
        let c = check_digit(&s);
        format!("{s}{}", digit_char(c))
    }
}

/// TD1 (ID-1 size cards): three lines of 30 characters.
pub(crate) fn td1(f: &MrzFields) -> Vec<String> {
    let line1 = format!(
        "{}{}{}{}",
        field(f.doc_code, 2),
        field(f.issuer, 3),
        f.number_and_check(),
        field(f.optional, 15)
    );
    let mut line2 = format!(
        "{}{}{}{}{}",
        MrzFields::date_and_check(f.birth),
        field(&f.sex.to_string(), 1),
        MrzFields::date_and_check(f.expiry),
        field(f.nationality, 3),
        field("", 11)
    );
    let composite = format!(
        "{}{}{}{}",
        &line1[5..30],
        &line2[0..7],
        &line2[8..15],
        &line2[18..29]
    );
    line2.push(digit_char(check_digit(&composite)));
    let line3 = name_field(f.surname, f.given_names, 30);
    vec![line1, line2, line3]
}

/// TD3 (passport data pages): two lines of 44 characters.
pub(crate) fn td3(f: &MrzFields) -> Vec<String> {
    let line1 = format!(
        "{}{}{}",
        field(f.doc_code, 2),
        field(f.issuer, 3),
        name_field(f.surname, f.given_names, 39)
    );
    let personal = field(f.optional, 14);
    let personal_check = if personal.chars().all(|c| c == '<') {
        '<'
    } else {
        digit_char(check_digit(&personal))
    };
    let mut line2 = format!(
        "{}{}{}{}{}{}{}",
        f.number_and_check(),
        field(f.nationality, 3),
        MrzFields::date_and_check(f.birth),
        field(&f.sex.to_string(), 1),
        MrzFields::date_and_check(f.expiry),
        personal,
        personal_check
    );
    let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
    line2.push(digit_char(check_digit(&composite)));
    vec![line1, line2]
}

fn check_at(line: &str, data: &str, pos: usize, what: &str) -> Result<(), String> {
    let printed = line.as_bytes()[pos] as char;
    let all_filler = data.chars().all(|c| c == '<');
    let ok = match printed {
        '<' => all_filler,
        c if c.is_ascii_digit() => c as u8 - b'0' == check_digit(data),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} check digit {printed:?} does not match {}",
            check_digit(data)
        ))
    }
}

fn check_shape(lines: &[&str], count: usize, len: usize) -> Result<(), String> {
    if lines.len() != count {
        return Err(format!("expected {count} lines, got {}", lines.len()));
    }
    for (i, l) in lines.iter().enumerate() {
        if l.len() != len {
            return Err(format!(
                "line {} has {} characters, expected {len}",
                i + 1,
                l.len()
            ));
        }
        if let Some(c) = l
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<'))
        {
            return Err(format!("line {} has invalid character {c:?}", i + 1));
        }
    }
    Ok(())
}

/// Checks the shape and every check digit of a TD1 MRZ (document number, birth, expiry, composite).
pub fn validate_td1(lines: &[&str]) -> Result<(), String> {
    check_shape(lines, 3, 30)?;
    let (l1, l2) = (lines[0], lines[1]);
    check_at(l1, &l1[5..14], 14, "document number")?;
    check_at(l2, &l2[0..6], 6, "date of birth")?;
    check_at(l2, &l2[8..14], 14, "date of expiry")?;
    let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
    check_at(l2, &composite, 29, "composite")
}

/// Checks the shape and every check digit of a TD3 MRZ (document number, birth, expiry,
/// personal number, composite).
pub fn validate_td3(lines: &[&str]) -> Result<(), String> {
    check_shape(lines, 2, 44)?;
    let l2 = lines[1];
    check_at(l2, &l2[0..9], 9, "document number")?;
    check_at(l2, &l2[13..19], 19, "date of birth")?;
    check_at(l2, &l2[21..27], 27, "date of expiry")?;
    check_at(l2, &l2[28..42], 42, "personal number")?;
    let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
    check_at(l2, &composite, 43, "composite")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specimen(
        doc_code: &'static str,
        number: &'static str,
        optional: &'static str,
    ) -> MrzFields<'static> {
        MrzFields {
            doc_code,
            issuer: "UTO",
            number,
            surname: "Eriksson",
            given_names: "Anna María",
            nationality: "UTO",
            birth: Date::new(1974, 8, 12),
            sex: 'F',
            expiry: Date::new(2012, 4, 15),
            optional,
            tamper_number_check: false,
        }
    }

    #[test]
    fn icao_specimen_check_digits() {
        assert_eq!(check_digit("L898902C3"), 6);
        assert_eq!(check_digit("740812"), 2);
        assert_eq!(check_digit("120415"), 9);
        assert_eq!(check_digit("ZE184226B<<<<<"), 1);
        assert_eq!(check_digit("D23145890"), 7);
        assert_eq!(check_digit("<<<<<<"), 0);
        // Composite digits of the TD3 and TD1 specimens.
        assert_eq!(check_digit("L898902C3674081221204159ZE184226B<<<<<1"), 0);
        assert_eq!(
            check_digit("D231458907<<<<<<<<<<<<<<<74081221204159<<<<<<<<<<<"),
            6
        );
    }

    #[test]
    fn builds_the_td3_specimen() {
        let lines = td3(&specimen("P<", "L898902C3", "ZE184226B"));
        assert_eq!(lines[0], "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<");
        assert_eq!(lines[1], "L898902C36UTO7408122F1204159ZE184226B<<<<<10");
        validate_td3(&[&lines[0], &lines[1]]).unwrap();
    }

    #[test]
    fn builds_the_td1_specimen() {
        let lines = td1(&specimen("I<", "D23145890", ""));
        assert_eq!(lines[0], "I<UTOD231458907<<<<<<<<<<<<<<<");
        assert_eq!(lines[1], "7408122F1204159UTO<<<<<<<<<<<6");
        assert_eq!(lines[2], "ERIKSSON<<ANNA<MARIA<<<<<<<<<<");
        validate_td1(&[&lines[0], &lines[1], &lines[2]]).unwrap();
    }

    #[test]
    fn tampering_breaks_only_the_number_check() {
        let mut f = specimen("I<", "D23145890", "");
        f.tamper_number_check = true;
        let lines = td1(&f);
        assert_eq!(&lines[0][14..15], "8");
        let err = validate_td1(&[&lines[0], &lines[1], &lines[2]]).unwrap_err();
        assert!(err.starts_with("document number"), "{err}");
        // The composite is computed over what is printed, so it is still right.
        let l1 = &lines[0];
        let l2 = &lines[1];
        let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
        assert_eq!(check_digit(&composite), l2.as_bytes()[29] - b'0');
    }

    #[test]
    fn long_names_are_truncated() {
        let f = name_field("Wolfeschlegelsteinhausenbergerdorff", "Hubert Blaine", 30);
        assert_eq!(f.len(), 30);
        assert_eq!(f, "WOLFESCHLEGELSTEINHAUSENBERGER");
    }
}
