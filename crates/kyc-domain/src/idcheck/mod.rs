//! KYC Desk's own document checks: the MRZ's check digits, the MRZ against the visual zone, barcode
//! and chip, expiry, minimum age and impossible dates. Nothing Ditto ID concludes is trusted here.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::flag::{Flag, Severity};
use crate::model::{Document, FieldDetail, Payload};
use crate::mrz::{self, Mrz};
use crate::text::{fold, same_value};
use crate::translit;

/// The thresholds of the document checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentPolicy {
    /// `document_expiring` when the document expires within this many days of receipt.
    pub expiring_days: i64,
    /// `under_age` when the holder is younger than this on the day of receipt.
    pub minimum_age: u32,
}

impl Default for DocumentPolicy {
    fn default() -> Self {
        DocumentPolicy {
            expiring_days: 30,
            minimum_age: 18,
        }
    }
}

/// The document flags of a submission received on `received`:
/// `mrz_unreadable`, `mrz_check_digit`, `mrz_composite`, `mrz_mismatch`, `document_expired`,
/// `document_expiring`, `under_age`, `date_impossible`, `date_ambiguous`.
pub fn document_flags(p: &Payload, received: Date, policy: &DocumentPolicy) -> Vec<Flag> {
    let Some(doc) = p.document() else {
        return Vec::new();
    };
    let mut flags = Vec::new();
    let mrz = match mrz_text(doc).map(mrz::parse) {
        None => None,
        Some(Err(e)) => {
            flags.push(Flag::new(
                "mrz_unreadable",
                Severity::Warning,
                format!("MRZ lines unreadable: {e}"),
            ));
            None
        }
        Some(Ok(m)) => {
            for c in m.failed_checks() {
                flags.push(if c.field == "composite" {
                    Flag::new(
                        "mrz_composite",
                        Severity::Error,
                        format!(
                            "MRZ composite check digit is {}, the MRZ says {}",
                            c.expected, c.found
                        ),
                    )
                } else {
                    Flag::new(
                        "mrz_check_digit",
                        Severity::Error,
                        format!(
                            "MRZ check digit for the {} is {}, the MRZ says {}",
                            c.field, c.expected, c.found
                        ),
                    )
                });
            }
            Some(m)
        }
    };
    mismatch_flags(doc, mrz.as_ref(), received, &mut flags);
    date_flags(doc, mrz.as_ref(), received, policy, &mut flags);
    flags
}

// ---------------------------------------------------------------------------------------------
// Where the values are

/// The final value of a field in `identity_data`, by any of `names` (exact, then ignoring case).
fn final_value<'a>(doc: &'a Document, names: &[&str]) -> Option<&'a str> {
    let found = names.iter().find_map(|n| {
        doc.identity_data.get(*n).or_else(|| {
            doc.identity_data
                .iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(n))
                .map(|(_, v)| v)
        })
    })?;
    Some(found.0.trim()).filter(|s| !s.is_empty())
}

/// Every field detail named one of `names`, with its locale, Latin ("0") first.
fn details<'a>(doc: &'a Document, names: &[&str]) -> Vec<(&'a str, &'a FieldDetail)> {
    let mut locales: Vec<&String> = doc.identity_data_details.keys().collect();
    locales.sort_by(|a, b| (a.as_str() != "0", a).cmp(&(b.as_str() != "0", b)));
    let mut out = Vec::new();
    for locale in locales {
        for f in &doc.identity_data_details[locale] {
            let name = f.field_name.as_deref().unwrap_or("").trim();
            if names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                out.push((locale.as_str(), f));
            }
        }
    }
    out
}

/// The MRZ text: `identity_data["MRZ lines"]`, else the field detail named "MRZ lines".
fn mrz_text(doc: &Document) -> Option<&str> {
    const NAMES: &[&str] = &["MRZ lines"];
    if let Some(v) = final_value(doc, NAMES) {
        return Some(v);
    }
    details(doc, NAMES).into_iter().find_map(|(_, f)| {
        let d = f.field_details.as_ref()?;
        let nonempty = |t: &str| !t.trim().is_empty();
        d.field_value
            .as_ref()
            .map(|t| t.0.as_str())
            .filter(|t| nonempty(t))
            .or_else(|| {
                d.field_source_and_values
                    .get("M")
                    .map(|t| t.0.as_str())
                    .filter(|t| nonempty(t))
            })
            .or_else(|| {
                d.field_source_and_values
                    .values()
                    .map(|t| t.0.as_str())
                    .find(|t| nonempty(t))
            })
    })
}

/// Reviewer's name of a field source code.
fn source_label(code: &str) -> String {
    match code {
        "V" => "visual".into(),
        "B" => "barcode".into(),
        "R" => "chip".into(),
        "M" => "MRZ".into(),
        other => other.to_string(),
    }
}

/// One field's values: the sender's MRZ reading and those of the other sources.
struct Sources<'a> {
    mrz: Option<&'a str>,
    /// (source label, value), without duplicates.
    others: Vec<(String, &'a str)>,
}

fn sources<'a>(doc: &'a Document, names: &[&str]) -> Sources<'a> {
    let mut mrz = None;
    let mut others: Vec<(String, &'a str)> = Vec::new();
    for (locale, f) in details(doc, names) {
        let Some(d) = f.field_details.as_ref() else {
            continue;
        };
        for (code, value) in &d.field_source_and_values {
            let (code, value) = (code.trim(), value.0.trim());
            if value.is_empty() {
                continue;
            }
            if code.eq_ignore_ascii_case("M") {
                mrz = mrz.or(Some(value));
            } else if locale == "0" || translit::comparable(value) {
                let label = source_label(&code.to_ascii_uppercase());
                if !others.iter().any(|(l, v)| *l == label && *v == value) {
                    others.push((label, value));
                }
            }
        }
    }
    if others.is_empty() {
        if let Some(v) = final_value(doc, names) {
            others.push(("final value".into(), v));
        }
    }
    Sources { mrz, others }
}

// ---------------------------------------------------------------------------------------------
// Comparing values

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Surname,
    GivenNames,
    Birth,
    Expiry,
    Sex,
    Nationality,
}

struct FieldSpec {
    label: &'static str,
    names: &'static [&'static str],
    kind: Kind,
    severity: Severity,
}

const FIELDS: [FieldSpec; 7] = [
    FieldSpec {
        label: "Document number",
        names: &["Document number"],
        kind: Kind::Number,
        severity: Severity::Error,
    },
    FieldSpec {
        label: "Surname",
        names: &["Surname"],
        kind: Kind::Surname,
        severity: Severity::Warning,
    },
    FieldSpec {
        label: "Given names",
        names: &["Given names", "Given name"],
        kind: Kind::GivenNames,
        severity: Severity::Warning,
    },
    FieldSpec {
        label: "Date of birth",
        names: &["Date of birth"],
        kind: Kind::Birth,
        severity: Severity::Error,
    },
    FieldSpec {
        label: "Date of expiry",
        names: &["Date of expiry"],
        kind: Kind::Expiry,
        severity: Severity::Error,
    },
    FieldSpec {
        label: "Sex",
        names: &["Sex"],
        kind: Kind::Sex,
        severity: Severity::Warning,
    },
    FieldSpec {
        label: "Nationality",
        names: &["Nationality code", "Nationality"],
        kind: Kind::Nationality,
        severity: Severity::Warning,
    },
];

/// A value made comparable.
#[derive(Debug, Clone, PartialEq)]
enum Norm {
    /// Names and numbers: compared with `same_value` (case, accents, fillers, ICAO spelling).
    Text(String),
    Date(Reading),
    Sex(char),
    Code(String),
}

impl Norm {
    fn display(&self) -> String {
        match self {
            Norm::Text(s) | Norm::Code(s) => s.clone(),
            Norm::Date(r) => r.display(),
            Norm::Sex(c) => c.to_string(),
        }
    }
}

fn dotted(d: Date) -> String {
    format!("{:02}.{:02}.{:04}", d.day(), u8::from(d.month()), d.year())
}

/// The MRZ's own value of a field.
fn from_mrz(m: &Mrz, kind: Kind, received: Date) -> Option<Norm> {
    Some(match kind {
        Kind::Number => Norm::Text(m.document_number.clone()),
        Kind::Surname => Norm::Text(m.surname.clone()),
        Kind::GivenNames => Norm::Text(m.given_names.clone()),
        Kind::Birth => Norm::Date(Reading::One(m.birth_date_on(received)?)),
        Kind::Expiry => Norm::Date(Reading::One(m.expiry_date_on(received)?)),
        Kind::Sex => Norm::Sex(parse_sex(&m.sex.to_string())?),
        Kind::Nationality => Norm::Code(parse_code(&m.nationality)?),
    })
}

/// A source's value of a field; `None` when it cannot be read as one (then it is not compared).
/// A date is read in the document's `order` when that is known, else both ways.
fn normalise(kind: Kind, value: &str, received: Date, order: Option<Order>) -> Option<Norm> {
    let date = |kind| parse_date(value, kind, received).map(|r| Norm::Date(r.resolve(order)));
    match kind {
        Kind::Number | Kind::Surname | Kind::GivenNames => {
            Some(Norm::Text(value.trim().to_string()))
        }
        Kind::Birth => date(DateKind::Past),
        Kind::Expiry => date(DateKind::Expiry),
        Kind::Sex => parse_sex(value).map(Norm::Sex),
        Kind::Nationality => parse_code(value).map(Norm::Code),
    }
}

/// Whether a source's value agrees with the MRZ's; `truncated` allows a cut-off MRZ name. A date
/// that reads both ways agrees when either reading is the MRZ's (the MRZ is the reference).
fn agrees(mrz: &Norm, other: &Norm, truncated: bool) -> bool {
    match (mrz, other) {
        (Norm::Date(a), Norm::Date(b)) => a.dates().any(|x| b.dates().any(|y| x == y)),
        (Norm::Text(a), Norm::Text(b)) => {
            // A value with no letters or digits ("-") says nothing.
            if !b.chars().any(char::is_alphanumeric) || same_value(a, b) {
                return true;
            }
            truncated
                && translit::latin_spellings(b).iter().any(|b| {
                    [false, true]
                        .iter()
                        .any(|&icao| fold(b, icao).starts_with(&fold(a, icao)))
                })
        }
        (a, b) => a == b,
    }
}

/// M, F or X from "M", "male", "F", "female", "X", "<", "W/F"...
fn parse_sex(v: &str) -> Option<char> {
    v.trim()
        .to_uppercase()
        .split('/')
        .find_map(|part| match part.trim() {
            "M" | "MALE" | "MAN" => Some('M'),
            "F" | "FEMALE" | "WOMAN" => Some('F'),
            "X" | "<" | "UNSPECIFIED" => Some('X'),
            _ => None,
        })
}

/// A nationality as a 1-3 letter code ("LVA", "D"); names ("Latvia") are not comparable.
fn parse_code(v: &str) -> Option<String> {
    let t = v.trim().trim_matches('<').to_uppercase();
    if (1..=3).contains(&t.len()) && t.chars().all(|c| c.is_ascii_uppercase()) {
        // Germany is "D" in the MRZ and "DEU" elsewhere.
        Some(if t == "DEU" { "D".into() } else { t })
    } else {
        None
    }
}

/// A sender's value as one short line: control characters as spaces, at most 40 characters.
fn shown(v: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = v
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if v.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

fn mismatch_flags(doc: &Document, mrz: Option<&Mrz>, received: Date, flags: &mut Vec<Flag>) {
    let order = date_order(doc, mrz);
    for spec in &FIELDS {
        let src = sources(doc, spec.names);
        let (mrz_value, truncated) = match mrz {
            Some(m) => (
                from_mrz(m, spec.kind, received),
                m.names_may_be_truncated && matches!(spec.kind, Kind::Surname | Kind::GivenNames),
            ),
            None => (
                src.mrz
                    .and_then(|v| normalise(spec.kind, v, received, order)),
                false,
            ),
        };
        let Some(mrz_value) = mrz_value else {
            continue;
        };
        let differing: Vec<String> = src
            .others
            .iter()
            .filter(|(_, value)| {
                normalise(spec.kind, value, received, order)
                    .is_some_and(|n| !agrees(&mrz_value, &n, truncated))
            })
            .map(|(label, value)| format!("{label} {}", shown(value)))
            .collect();
        if !differing.is_empty() {
            flags.push(Flag::new(
                "mrz_mismatch",
                spec.severity,
                format!(
                    "{}: MRZ {}, {}",
                    spec.label,
                    mrz_value.display(),
                    differing.join(", ")
                ),
            ));
        }
    }
}

mod dates;
use dates::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use time::macros::date;

    use crate::mrz::specimens::{TD1, TD2, TD3};
    /// Before the specimens' expiry (15.04.2012), after their holder's 18th birthday.
    const RECEIVED: Date = date!(2011 - 06 - 01);

    /// One field detail: (locale, field name, [(source code, value)]).
    type Detail<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    /// A payload from `identity_data` pairs and `(locale, field, [(source, value)])` details.
    fn payload(identity: &[(&str, &str)], details: &[Detail]) -> Payload {
        let mut data = Map::new();
        for (k, v) in identity {
            data.insert((*k).into(), Value::String((*v).into()));
        }
        let mut locales: Map<String, Value> = Map::new();
        for (locale, name, sources) in details {
            let sv: Map<String, Value> = sources
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::String((*v).into())))
                .collect();
            let entry = locales
                .entry((*locale).to_string())
                .or_insert_with(|| json!([]));
            if let Value::Array(a) = entry {
                a.push(
                    json!({"field_name": name, "field_details": {"field_source_and_values": sv}}),
                );
            }
        }
        serde_json::from_value(json!({
            "kyc_info": {"document": {"identity_data": data, "identity_data_details": locales}}
        }))
        .unwrap()
    }

    /// The TD3 specimen with matching visual values, plus `extra` details.
    fn specimen_with(mrz: &str, extra: &[Detail], identity: &[(&str, &str)]) -> Payload {
        let mut id: Vec<(&str, &str)> = vec![("MRZ lines", mrz)];
        id.extend_from_slice(identity);
        let mut det: Vec<Detail> = vec![
            (
                "0",
                "Document number",
                &[("M", "L898902C3"), ("V", "L898902C3")],
            ),
            ("0", "Surname", &[("M", "ERIKSSON"), ("V", "ERIKSSON")]),
            (
                "0",
                "Given names",
                &[("M", "ANNA MARIA"), ("V", "Anna María")],
            ),
            (
                "0",
                "Date of birth",
                &[("M", "12.08.1974"), ("V", "12.08.1974")],
            ),
            (
                "0",
                "Date of expiry",
                &[("M", "15.04.2012"), ("V", "15.04.2012")],
            ),
            ("0", "Sex", &[("M", "F"), ("V", "F")]),
            ("0", "Nationality code", &[("M", "UTO"), ("V", "UTO")]),
            ("0", "Nationality", &[("M", "Utopia")]),
        ];
        det.extend_from_slice(extra);
        // Later entries for the same field replace the specimen's.
        let mut seen = std::collections::BTreeSet::new();
        let det: Vec<_> = det
            .into_iter()
            .rev()
            .filter(|(l, n, _)| seen.insert((*l, *n)))
            .collect();
        payload(&id, &det)
    }

    fn codes(flags: &[Flag]) -> Vec<&str> {
        flags.iter().map(|f| f.code.as_str()).collect()
    }

    fn run(p: &Payload, received: Date) -> Vec<Flag> {
        document_flags(p, received, &DocumentPolicy::default())
    }

    #[test]
    fn valid_specimens_give_no_flags() {
        for mrz in [TD1, TD2, TD3] {
            let p = specimen_with(
                mrz,
                &[(
                    "0",
                    "Document number",
                    &[
                        ("M", if mrz == TD3 { "L898902C3" } else { "D23145890" }),
                        ("V", if mrz == TD3 { "L898902C3" } else { "D23145890" }),
                    ],
                )],
                &[],
            );
            assert_eq!(run(&p, RECEIVED), vec![], "{mrz}");
        }
        assert_eq!(run(&Payload::default(), RECEIVED), vec![]);
        assert_eq!(run(&payload(&[], &[]), RECEIVED), vec![]);
    }

    #[test]
    fn check_digit_flags() {
        struct Case {
            mrz: String,
            codes: &'static [&'static str],
            message: &'static str,
        }
        let bump = |text: &str, line: usize, col: usize| -> String {
            let lines: Vec<String> = text
                .split('\n')
                .enumerate()
                .map(|(i, l)| {
                    if i != line {
                        return l.to_string();
                    }
                    l.chars()
                        .enumerate()
                        .map(|(j, c)| {
                            if j == col {
                                char::from_digit((c.to_digit(10).unwrap() + 1) % 10, 10).unwrap()
                            } else {
                                c
                            }
                        })
                        .collect()
                })
                .collect();
            lines.join("\n")
        };
        let cases = [
            Case {
                mrz: bump(TD3, 1, 9),
                codes: &["mrz_check_digit", "mrz_composite"],
                message: "MRZ check digit for the document number is 6, the MRZ says 7",
            },
            Case {
                mrz: bump(TD3, 1, 19),
                codes: &["mrz_check_digit", "mrz_composite"],
                message: "MRZ check digit for the date of birth is 2, the MRZ says 3",
            },
            Case {
                mrz: bump(TD3, 1, 27),
                codes: &["mrz_check_digit", "mrz_composite"],
                message: "MRZ check digit for the date of expiry is 9, the MRZ says 0",
            },
            Case {
                mrz: bump(TD3, 1, 42),
                codes: &["mrz_check_digit", "mrz_composite"],
                message: "MRZ check digit for the optional data is 1, the MRZ says 2",
            },
            Case {
                mrz: bump(TD3, 1, 43),
                codes: &["mrz_composite"],
                message: "MRZ composite check digit is 0, the MRZ says 1",
            },
            Case {
                mrz: bump(TD1, 0, 14),
                codes: &["mrz_check_digit", "mrz_composite"],
                message: "MRZ check digit for the document number is 7, the MRZ says 8",
            },
            Case {
                mrz: bump(TD1, 1, 29),
                codes: &["mrz_composite"],
                message: "MRZ composite check digit is 6, the MRZ says 7",
            },
            Case {
                mrz: bump(TD2, 1, 35),
                codes: &["mrz_composite"],
                message: "MRZ composite check digit is 6, the MRZ says 7",
            },
        ];
        for c in cases {
            let p = payload(&[("MRZ lines", &c.mrz)], &[]);
            let flags = run(&p, RECEIVED);
            assert_eq!(codes(&flags), c.codes, "{}", c.mrz);
            assert_eq!(flags[0].message, c.message);
            assert!(flags.iter().all(|f| f.severity == Severity::Error));
        }
    }

    #[test]
    fn unreadable_mrz() {
        for (mrz, message) in [
            ("garbage", "MRZ lines unreadable: the MRZ is one line of 7 characters; joined lines have 90 (TD1), 72 (TD2) or 88 (TD3)"),
            (&TD3[..80], "MRZ lines unreadable: MRZ line 2 has 35 characters, expected 44 (TD3)"),
            ("P<UTOÉRIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10", "MRZ lines unreadable: MRZ line 1, character 6 is not A-Z, 0-9 or '<'"),
        ] {
            let flags = run(&payload(&[("MRZ lines", mrz)], &[]), RECEIVED);
            assert_eq!(codes(&flags), ["mrz_unreadable"]);
            assert_eq!(flags[0].severity, Severity::Warning);
            assert_eq!(flags[0].message, message);
        }
        // Also found as a field detail; an empty value is no MRZ at all.
        let p = payload(&[], &[("0", "MRZ lines", &[("M", "not an mrz")])]);
        assert_eq!(codes(&run(&p, RECEIVED)), ["mrz_unreadable"]);
        let p = payload(&[("MRZ lines", "  ")], &[]);
        assert_eq!(run(&p, RECEIVED), vec![]);
        // A valid MRZ as a field detail.
        let p = payload(&[], &[("0", "MRZ lines", &[("M", TD1)])]);
        assert_eq!(run(&p, RECEIVED), vec![]);
    }

    #[test]
    fn mismatch_flags_name_field_and_sources() {
        type Extra = &'static [Detail<'static>];
        let cases: &[(Extra, Severity, &str)] = &[
            (
                &[("0", "Date of birth", &[("V", "13.08.1974")])],
                Severity::Error,
                "Date of birth: MRZ 12.08.1974, visual 13.08.1974",
            ),
            (
                &[("0", "Date of expiry", &[("B", "20120416"), ("R", "120415")])],
                Severity::Error,
                "Date of expiry: MRZ 15.04.2012, barcode 20120416",
            ),
            (
                &[(
                    "0",
                    "Document number",
                    &[("V", "L898902C4"), ("R", "L898902C3")],
                )],
                Severity::Error,
                "Document number: MRZ L898902C3, visual L898902C4",
            ),
            (
                &[("0", "Surname", &[("V", "ERIKSON"), ("B", "Eriksson")])],
                Severity::Warning,
                "Surname: MRZ ERIKSSON, visual ERIKSON",
            ),
            (
                &[("0", "Given names", &[("V", "ANNA")])],
                Severity::Warning,
                "Given names: MRZ ANNA MARIA, visual ANNA",
            ),
            (
                &[("0", "Sex", &[("V", "male")])],
                Severity::Warning,
                "Sex: MRZ F, visual male",
            ),
            (
                &[("0", "Nationality code", &[("V", "XXA")])],
                Severity::Warning,
                "Nationality: MRZ UTO, visual XXA",
            ),
            // A national locale in Latin script is compared too.
            (
                &[("1062", "Surname", &[("V", "ĒRIKSONA")])],
                Severity::Warning,
                "Surname: MRZ ERIKSSON, visual ĒRIKSONA",
            ),
            // A national-script value that transliterates to another name.
            (
                &[("1049", "Surname", &[("V", "ПЕТРОВА")])],
                Severity::Warning,
                "Surname: MRZ ERIKSSON, visual ПЕТРОВА",
            ),
        ];
        for (extra, severity, message) in cases {
            let flags = run(&specimen_with(TD3, extra, &[]), RECEIVED);
            assert_eq!(codes(&flags), ["mrz_mismatch"], "{message}");
            assert_eq!(flags[0].severity, *severity);
            assert_eq!(flags[0].message, *message);
        }
    }

    #[test]
    fn messages_stay_one_short_line() {
        let long = format!("ERIK\nSON{}", "X".repeat(200));
        let p = payload(&[("MRZ lines", TD3)], &[("0", "Surname", &[("V", &long)])]);
        let flags = run(&p, RECEIVED);
        assert_eq!(codes(&flags), ["mrz_mismatch"]);
        let m = &flags[0].message;
        assert!(!m.contains('\n') && m.chars().count() < 80, "{m}");
        assert!(m.starts_with("Surname: MRZ ERIKSSON, visual ERIK SONXXX") && m.ends_with('…'));
    }

    #[test]
    fn equal_values_in_other_spellings_agree() {
        type Extra = &'static [Detail<'static>];
        let cases: &[Extra] = &[
            &[(
                "0",
                "Date of birth",
                &[("V", "1974-08-12"), ("B", "12/08/1974")],
            )],
            &[("0", "Date of birth", &[("V", "740812"), ("B", "19740812")])],
            &[(
                "0",
                "Date of birth",
                &[("V", "12 AUG 1974"), ("B", "12 Aug 74")],
            )],
            &[(
                "0",
                "Date of birth",
                &[("V", "1974-08-12T00:00:00Z"), ("B", "Aug 12, 1974")],
            )],
            &[(
                "0",
                "Date of expiry",
                &[("V", "15 APR 12"), ("B", "120415"), ("R", "15-04-2012")],
            )],
            // Unreadable values are not compared.
            &[("0", "Date of birth", &[("V", "soon"), ("B", "31.02.1974")])],
            &[(
                "0",
                "Sex",
                &[("V", "female"), ("B", "W/F"), ("R", "Weiblich")],
            )],
            &[(
                "0",
                "Surname",
                &[("V", "Eriksson"), ("B", "eriksson"), ("R", "-")],
            )],
            &[(
                "0",
                "Given names",
                &[("V", "ANNA<MARIA"), ("B", "Ánna Maria")],
            )],
            &[(
                "0",
                "Document number",
                &[("V", "L898 902 C3"), ("B", "l898902c3")],
            )],
            &[("0", "Nationality code", &[("V", "uto"), ("B", "UTO<")])],
            &[("0", "Nationality", &[("V", "Utopian")])],
            // National scripts are compared through ICAO 9303 transliteration.
            &[("1049", "Surname", &[("V", "ЭРИКССОН")])],
            &[("1032", "Given names", &[("V", "ΑΝΝΑ ΜΑΡΙΑ")])],
            &[("1025", "Surname", &[("V", "إريكسون")])],
            // A script with no table is not compared.
            &[("1041", "Surname", &[("V", "エリクソン")])],
        ];
        for extra in cases {
            assert_eq!(
                run(&specimen_with(TD3, extra, &[]), RECEIVED),
                vec![],
                "{extra:?}"
            );
        }
    }

    #[test]
    fn names_compare_with_transliteration_and_truncation() {
        let lines = |name_line: &str| {
            assert!(name_line.len() <= 30, "{name_line}");
            format!("{}\n{name_line:<<30}", &TD1[..61])
        };
        // ICAO transliteration: Ä → AE, ß → SS, and the plain spelling.
        for (name_line, surname, given) in [
            ("MUELLER<<LUKAS", "Müller", "Lukas"),
            ("MULLER<<LUKAS", "MÜLLER", "LUKAS"),
            ("WEISS<<SOPHIE", "Weiß", "Sophie"),
            ("OESTERGAARD<<SOEREN", "Østergaard", "Søren"),
            ("BERZINA<<ANNA", "BĒRZIŅA", "Anna"),
            // Truncated name fields: the MRZ may be a prefix.
            (
                "WOLFESCHLEGELSTEINHAUSENBERGER",
                "Wolfeschlegelsteinhausenbergerdorff",
                "Hubert",
            ),
            (
                "GARCIA<LOPEZ<<JOSE<MARIA<ANTON",
                "García López",
                "José María Antonio",
            ),
        ] {
            let p = payload(
                &[("MRZ lines", &lines(name_line))],
                &[
                    ("0", "Surname", &[("V", surname)]),
                    ("0", "Given names", &[("V", given)]),
                ],
            );
            assert_eq!(run(&p, RECEIVED), vec![], "{name_line}");
        }
        // Not truncated (trailing filler): a prefix is a mismatch.
        let p = payload(
            &[("MRZ lines", &lines("GARCIA<<JOSE"))],
            &[("0", "Surname", &[("V", "García López")])],
        );
        let flags = run(&p, RECEIVED);
        assert_eq!(codes(&flags), ["mrz_mismatch"]);
        assert_eq!(flags[0].message, "Surname: MRZ GARCIA, visual García López");
    }

    #[test]
    fn mismatch_without_mrz_lines_and_with_final_values() {
        // No MRZ lines: the sender's "M" values are the MRZ side.
        let p = payload(
            &[],
            &[(
                "0",
                "Date of birth",
                &[("M", "12.03.1985"), ("V", "13.03.1985")],
            )],
        );
        let flags = run(&p, date!(2025 - 06 - 01));
        assert_eq!(codes(&flags), ["mrz_mismatch"]);
        assert_eq!(
            flags[0].message,
            "Date of birth: MRZ 12.03.1985, visual 13.03.1985"
        );
        // No per-source values: the final value is compared with the MRZ.
        let p = payload(&[("MRZ lines", TD3), ("Date of birth", "1974-08-13")], &[]);
        let flags = run(&p, RECEIVED);
        assert_eq!(codes(&flags), ["mrz_mismatch"]);
        assert_eq!(
            flags[0].message,
            "Date of birth: MRZ 12.08.1974, final value 1974-08-13"
        );
        let p = payload(&[("MRZ lines", TD3), ("Given name", "Anna Maria")], &[]);
        assert_eq!(run(&p, RECEIVED), vec![]);
    }

    #[test]
    fn date_flags_by_code() {
        struct Case {
            name: &'static str,
            identity: &'static [(&'static str, &'static str)],
            received: Date,
            policy: DocumentPolicy,
            codes: &'static [&'static str],
            message: Option<&'static str>,
        }
        let default = DocumentPolicy::default();
        let cases = [
            Case {
                name: "expired (MRZ)",
                identity: &[("MRZ lines", TD3)],
                received: date!(2012 - 04 - 16),
                policy: default,
                codes: &["document_expired"],
                message: Some(
                    "The document expired on 15.04.2012, before it was received on 16.04.2012",
                ),
            },
            Case {
                name: "last valid day",
                identity: &[("MRZ lines", TD3)],
                received: date!(2012 - 04 - 15),
                policy: default,
                codes: &["document_expiring"],
                message: Some("The document expires on 15.04.2012, 0 days after it was received"),
            },
            Case {
                name: "expiring within 30 days",
                identity: &[("MRZ lines", TD1)],
                received: date!(2012 - 03 - 20),
                policy: default,
                codes: &["document_expiring"],
                message: Some("The document expires on 15.04.2012, 26 days after it was received"),
            },
            Case {
                name: "expiring, shorter policy",
                identity: &[("MRZ lines", TD1)],
                received: date!(2012 - 03 - 20),
                policy: DocumentPolicy {
                    expiring_days: 10,
                    ..default
                },
                codes: &[],
                message: None,
            },
            Case {
                name: "expired (identity data only)",
                identity: &[("Date of expiry", "2020-01-31")],
                received: date!(2025 - 06 - 01),
                policy: default,
                codes: &["document_expired"],
                message: None,
            },
            Case {
                name: "under age (MRZ)",
                identity: &[("MRZ lines", TD2)],
                received: date!(1992 - 08 - 11),
                policy: default,
                codes: &["under_age"],
                message: Some(
                    "The holder was 17 when the document was received; the minimum age is 18",
                ),
            },
            Case {
                name: "18th birthday",
                identity: &[("MRZ lines", TD2)],
                received: date!(1992 - 08 - 12),
                policy: default,
                codes: &[],
                message: None,
            },
            Case {
                name: "under a higher minimum age",
                identity: &[("MRZ lines", TD2)],
                received: RECEIVED,
                policy: DocumentPolicy {
                    minimum_age: 40,
                    ..default
                },
                codes: &["under_age"],
                message: None,
            },
            Case {
                name: "birth in the future",
                identity: &[("Date of birth", "01.01.2030")],
                received: date!(2025 - 06 - 01),
                policy: default,
                codes: &["date_impossible"],
                message: Some(
                    "The date of birth 01.01.2030 is after the day the document was received",
                ),
            },
            Case {
                name: "birth more than 130 years ago",
                identity: &[("Date of birth", "31.05.1895")],
                received: date!(2025 - 06 - 01),
                policy: default,
                codes: &["date_impossible"],
                message: Some("The date of birth 31.05.1895 is more than 130 years ago"),
            },
            Case {
                name: "exactly 130 years",
                identity: &[("Date of birth", "01.06.1895")],
                received: date!(2025 - 06 - 01),
                policy: default,
                codes: &[],
                message: None,
            },
            Case {
                name: "birth after issue",
                identity: &[("MRZ lines", TD3), ("Date of issue", "01.01.1970")],
                received: RECEIVED,
                policy: default,
                codes: &["date_impossible"],
                message: Some("The date of birth 12.08.1974 is after the date of issue 01.01.1970"),
            },
            Case {
                name: "expiry before issue",
                identity: &[("MRZ lines", TD3), ("Date of issue", "2012-05-01")],
                received: RECEIVED,
                policy: default,
                codes: &["date_impossible"],
                message: Some(
                    "The date of expiry 15.04.2012 is before the date of issue 01.05.2012",
                ),
            },
            Case {
                name: "a plausible issue date",
                identity: &[("MRZ lines", TD3), ("Date of issue", "16.04.2002")],
                received: RECEIVED,
                policy: default,
                codes: &[],
                message: None,
            },
        ];
        for c in cases {
            let p = payload(c.identity, &[]);
            let flags = document_flags(&p, c.received, &c.policy);
            assert_eq!(codes(&flags), c.codes, "{}", c.name);
            if let Some(m) = c.message {
                assert_eq!(flags[0].message, m, "{}", c.name);
            }
            for f in &flags {
                let expected = if f.code == "document_expiring" {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                assert_eq!(f.severity, expected, "{}", c.name);
            }
        }
    }

    #[test]
    fn dates_prefer_an_mrz_whose_digit_holds() {
        // The MRZ birth date digit is wrong: the identity data's date of birth decides the age.
        let bad_birth = TD3.replace("7408122F", "0808122F");
        let p = payload(
            &[("MRZ lines", &bad_birth), ("Date of birth", "12.08.1974")],
            &[],
        );
        let flags = run(&p, RECEIVED);
        assert!(!codes(&flags).contains(&"under_age"), "{flags:?}");
        assert!(codes(&flags).contains(&"mrz_check_digit"));
        // Without identity data, the MRZ is used anyway.
        let p = payload(&[("MRZ lines", &bad_birth)], &[]);
        assert!(codes(&run(&p, RECEIVED)).contains(&"under_age"));
    }

    #[test]
    fn parses_date_formats() {
        let on = date!(2025 - 06 - 01);
        let d = vec![date!(1985 - 03 - 12)];
        // Day and month swappable: both readings, day first first.
        let both = vec![date!(1985 - 03 - 12), date!(1985 - 12 - 03)];
        for (text, kind, expected) in [
            ("12.03.1985", DateKind::Past, d.clone()),
            ("1985-03-12", DateKind::Past, d.clone()),
            ("12/03/1985", DateKind::Past, both.clone()),
            (
                "03/12/1985",
                DateKind::Past,
                both.iter().rev().copied().collect(),
            ),
            ("850312", DateKind::Past, d.clone()),
            ("19850312", DateKind::Past, d.clone()),
            ("12031985", DateKind::Past, d.clone()),
            ("12 MAR 1985", DateKind::Past, d.clone()),
            ("12 march 1985", DateKind::Past, d.clone()),
            ("12.3.85", DateKind::Past, d.clone()),
            ("12-03-1985", DateKind::Past, both.clone()),
            ("Mar 12, 1985", DateKind::Past, d.clone()),
            ("  12.03.1985  ", DateKind::Past, d.clone()),
            ("1985-03-12T10:00:00+02:00", DateKind::Past, d.clone()),
            // Only one reading is a date.
            ("25.03.1985", DateKind::Past, vec![date!(1985 - 03 - 25)]),
            ("03/25/1985", DateKind::Past, vec![date!(1985 - 03 - 25)]),
            ("12/13/1985", DateKind::Past, vec![date!(1985 - 12 - 13)]),
            ("12.13.1985", DateKind::Past, vec![]),
            // Both readings are the same day.
            ("07/07/1985", DateKind::Past, vec![date!(1985 - 07 - 07)]),
            ("300101", DateKind::Expiry, vec![date!(2030 - 01 - 01)]),
            ("300101", DateKind::Past, vec![date!(1930 - 01 - 01)]),
            ("01 JAN 30", DateKind::Expiry, vec![date!(2030 - 01 - 01)]),
            ("31.02.1985", DateKind::Past, vec![]),
            ("13.13.1985", DateKind::Past, vec![]),
            ("12 ABC 1985", DateKind::Past, vec![]),
            ("12.03.19850", DateKind::Past, vec![]),
            ("", DateKind::Past, vec![]),
            ("１２.０３.１９８５", DateKind::Past, vec![]),
            ("12 MÄR 1985", DateKind::Past, vec![]),
            ("99999999999999999999", DateKind::Past, vec![]),
        ] {
            let read: Vec<Date> = parse_date(text, kind, on)
                .map(|r| r.dates().collect())
                .unwrap_or_default();
            assert_eq!(read, expected, "{text}");
        }
    }

    #[test]
    fn the_date_order_comes_from_the_issuing_state_then_the_locales() {
        let order = |identity: &[(&str, &str)], locales: &[&str]| {
            let mut p = payload(identity, &[]);
            let doc = p.kyc_info.as_mut().unwrap().document.as_mut().unwrap();
            let mut info = crate::model::DocumentInfo::default();
            for l in locales {
                info.field_locales
                    .insert((*l).into(), crate::model::Text("x".into()));
            }
            doc.document_info = Some(info);
            let mrz = final_value(doc, &["MRZ lines"]).and_then(|t| mrz::parse(t).ok());
            date_order(doc, mrz.as_ref())
        };
        use Order::{DayFirst, MonthFirst};
        for (identity, locales, expected) in [
            (&[][..], &[][..], None),
            (&[], &["0"], None),
            (&[("Issuing state code", "USA")], &[], Some(MonthFirst)),
            (
                &[("Issuing state code", "usa")],
                &["1062"],
                Some(MonthFirst),
            ),
            (&[("Issuing state code", "LVA")], &["1033"], Some(DayFirst)),
            (&[("Issuing state code", "D")], &[], None),
            (&[("MRZ lines", TD3)], &[], Some(DayFirst)),
            (
                &[("MRZ lines", TD3), ("Issuing state code", "USA")],
                &[],
                Some(DayFirst),
            ),
            (&[], &["0", "1033"], Some(MonthFirst)),
            (&[], &["0", "1062"], Some(DayFirst)),
        ] {
            assert_eq!(
                order(identity, locales),
                expected,
                "{identity:?} {locales:?}"
            );
        }
    }

    #[test]
    fn a_swappable_visual_date_is_read_by_the_state_or_else_by_the_mrz() {
        let birth = |state: Option<&str>| {
            let mut identity = vec![];
            if let Some(s) = state {
                identity.push(("Issuing state code", s));
            }
            payload(
                &identity,
                &[(
                    "0",
                    "Date of birth",
                    &[("M", "081201"), ("V", "12/01/2008")],
                )],
            )
        };
        let on = date!(2030 - 01 - 01);
        // The United States print the month first: 1 December 2008, as the MRZ says.
        assert_eq!(codes(&run(&birth(Some("USA")), on)), Vec::<&str>::new());
        // Nothing says: the MRZ is the reference, and one reading is its date.
        assert_eq!(codes(&run(&birth(None), on)), Vec::<&str>::new());
        // Latvia prints the day first: 12 January 2008 is not the MRZ's date.
        let flags = run(&birth(Some("LVA")), on);
        assert_eq!(codes(&flags), ["mrz_mismatch"]);
        assert_eq!(
            flags[0].message,
            "Date of birth: MRZ 01.12.2008, visual 12/01/2008"
        );
        // No reading matches: a mismatch that names both readings' source value.
        let p = payload(
            &[],
            &[(
                "0",
                "Date of birth",
                &[("M", "081202"), ("V", "12/01/2008")],
            )],
        );
        assert_eq!(codes(&run(&p, on)), ["mrz_mismatch"]);
    }

    #[test]
    fn an_ambiguous_date_is_flagged_and_checked_cautiously() {
        // 12 January 2008 (18 on the day of receipt) or 1 December 2008 (17).
        let received = date!(2026 - 06 - 01);
        let p = |identity: &[(&str, &str)]| {
            let mut id = vec![("Date of birth", "12/01/2008")];
            id.extend_from_slice(identity);
            payload(&id, &[])
        };
        let flags = run(&p(&[]), received);
        assert_eq!(codes(&flags), ["date_ambiguous", "under_age"], "{flags:?}");
        assert_eq!(
            flags[0].message,
            "Date of birth \"12/01/2008\" reads as 12.01.2008 or 01.12.2008 and nothing on the document says which; the checks assume 01.12.2008"
        );
        assert_eq!(flags[0].severity, Severity::Warning);
        // A month-first state: under age, not ambiguous; a day-first state: neither.
        assert_eq!(
            codes(&run(&p(&[("Issuing state code", "USA")]), received)),
            ["under_age"]
        );
        assert!(run(&p(&[("Issuing state code", "FRA")]), received).is_empty());
        // An expiry assumes the earlier reading; a date of issue is not checked.
        let expiry = payload(&[("Date of expiry", "06/05/2026")], &[]);
        let flags = run(&expiry, received);
        assert_eq!(
            codes(&flags),
            ["date_ambiguous", "document_expired"],
            "{flags:?}"
        );
        let issue = payload(
            &[
                ("Date of issue", "02/03/2020"),
                ("Date of birth", "1990-01-01"),
            ],
            &[],
        );
        let flags = run(&issue, received);
        assert_eq!(codes(&flags), ["date_ambiguous"]);
        assert!(
            flags[0].message.ends_with("it is not checked"),
            "{}",
            flags[0].message
        );
    }

    /// Deterministic garbage in every field the checks read: never a panic.
    #[test]
    fn never_panics() {
        const PIECES: &[&str] = &[
            "<",
            "<<",
            "P",
            "I",
            "1",
            "12",
            "1985",
            ".",
            "/",
            "-",
            " ",
            "\n",
            "T",
            "MAR",
            "é",
            "Ä",
            "ß",
            "😀",
            "\u{301}",
            "Ǆ",
            "ﬁ",
            "İ",
            TD3,
            TD1,
            "L898902C3",
            "0",
            "-",
            "\r\n",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let fields = [
            "MRZ lines",
            "Date of birth",
            "Date of expiry",
            "Date of issue",
            "Surname",
            "Given names",
            "Document number",
            "Sex",
            "Nationality code",
        ];
        for _ in 0..3000 {
            let mut text = |n: u64| -> String {
                (0..n)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            };
            let values: Vec<String> = fields.iter().map(|_| text(4)).collect();
            let identity: Vec<(&str, &str)> = fields
                .iter()
                .zip(&values)
                .map(|(f, v)| (*f, v.as_str()))
                .collect();
            let extra: Vec<String> = fields.iter().map(|_| text(3)).collect();
            let details: Vec<Detail> = Vec::new();
            let mut p = payload(&identity, &details);
            // Per-source values too, in two locales.
            let doc = p.kyc_info.as_mut().unwrap().document.as_mut().unwrap();
            for (locale, code) in [("0", "V"), ("1049", "B")] {
                let list: Vec<FieldDetail> = fields
                    .iter()
                    .zip(&extra)
                    .map(|(f, v)| {
                        serde_json::from_value(json!({
                            "field_name": f,
                            "field_details": {"field_source_and_values": {code: v, "M": v}}
                        }))
                        .unwrap()
                    })
                    .collect();
                doc.identity_data_details.insert(locale.into(), list);
            }
            for received in [date!(2025 - 06 - 01), Date::MIN, Date::MAX] {
                let _ = document_flags(&p, received, &DocumentPolicy::default());
            }
            let _ = document_flags(
                &p,
                date!(2025 - 06 - 01),
                &DocumentPolicy {
                    expiring_days: i64::MIN,
                    minimum_age: u32::MAX,
                },
            );
        }
    }
}
