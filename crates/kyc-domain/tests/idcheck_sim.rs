//! `kyc_domain::idcheck::document_flags` over kyc-sim submissions: Clean gives no document flag, Expired gives
//! `document_expired`, Tampered `mrz_check_digit`, Mismatch `mrz_mismatch`, on ID cards (TD1) and
//! passports (TD3) of every simulated person.
//!
//! The submissions are generated with `kyc_sim::generate_with` (seed 42, received 2025-06-01), with
//! placeholder images: the checks read text only, and the text is the same as with drawn images.

use std::collections::BTreeSet;

use kyc_domain::flag::{Flag, Severity};
use kyc_domain::idcheck::{document_flags, DocumentPolicy};
use kyc_domain::model::Payload;
use kyc_domain::mrz::{self, MrzFormat};

struct Sub {
    scenario: String,
    index: u64,
    format: String,
    payload: Payload,
}

fn fixture() -> (time::Date, Vec<Sub>) {
    let today = time::Date::from_calendar_date(2025, time::Month::June, 1).unwrap();
    let sim_today = kyc_sim::Today {
        year: 2025,
        month: 6,
        day: 1,
    };
    let plan = [
        (kyc_sim::Scenario::Clean, 16),
        (kyc_sim::Scenario::Expired, 6),
        (kyc_sim::Scenario::Mismatch, 6),
        (kyc_sim::Scenario::Tampered, 6),
    ];
    let mut subs = Vec::new();
    for (scenario, count) in plan {
        for index in 0..count {
            let pictures = kyc_sim::Pictures::Placeholders;
            let g = kyc_sim::generate_with(scenario, index, 42, &sim_today, pictures);
            let payload = serde_json::from_value::<Payload>(g.payload).unwrap();
            let passport = payload
                .document_type()
                .is_some_and(|t| t.contains("Passport"));
            subs.push(Sub {
                scenario: scenario.as_str().to_string(),
                index,
                format: if passport { "TD3" } else { "TD1" }.to_string(),
                payload,
            });
        }
    }
    (today, subs)
}

fn codes(flags: &[Flag]) -> Vec<&str> {
    flags.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn every_scenario_gives_its_flag_and_nothing_else() {
    let (today, subs) = fixture();
    assert_eq!(subs.len(), 16 + 3 * 6);
    let mut seen = BTreeSet::new();
    let mut mismatched_fields = BTreeSet::new();
    let mut countries = BTreeSet::new();
    for s in &subs {
        let what = format!("{} #{} ({})", s.scenario, s.index, s.format);
        // The simulator's MRZ parses, in the declared layout.
        let text = s.payload.identity(&["MRZ lines"]).unwrap();
        let m = mrz::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        let format = match m.format {
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::Td3 => "TD3",
        };
        assert_eq!(format, s.format, "{what}");
        assert_eq!(
            Some(m.document_number.as_str()),
            s.payload.document_number()
        );
        countries.insert(m.issuing_state.clone());
        seen.insert((s.scenario.clone(), s.format.clone()));

        let flags = document_flags(&s.payload, today, &DocumentPolicy::default());
        match s.scenario.as_str() {
            "clean" => assert_eq!(flags, vec![], "{what}"),
            "expired" => {
                assert_eq!(codes(&flags), ["document_expired"], "{what}: {flags:?}");
                assert_eq!(flags[0].severity, Severity::Error);
            }
            "tampered" => {
                // The number's digit is off by one; the composite is computed over what is printed.
                assert_eq!(codes(&flags), ["mrz_check_digit"], "{what}: {flags:?}");
                assert!(flags[0].message.contains("document number"), "{what}");
                assert_eq!(flags[0].severity, Severity::Error);
            }
            "mismatch" => {
                assert_eq!(codes(&flags), ["mrz_mismatch"], "{what}: {flags:?}");
                let f = &flags[0];
                let field = f.message.split(':').next().unwrap().to_string();
                let severity = match field.as_str() {
                    "Date of birth" => Severity::Error,
                    "Surname" => Severity::Warning,
                    other => panic!("{what}: unexpected field {other}"),
                };
                assert_eq!(f.severity, severity, "{what}");
                assert!(f.message.contains(", visual "), "{what}: {}", f.message);
                mismatched_fields.insert(field);
            }
            other => panic!("unknown scenario {other}"),
        }
    }
    for scenario in ["clean", "expired", "mismatch", "tampered"] {
        for format in ["TD1", "TD3"] {
            assert!(
                seen.contains(&(scenario.to_string(), format.to_string())),
                "{scenario} {format}"
            );
        }
    }
    assert_eq!(
        mismatched_fields,
        BTreeSet::from(["Date of birth".to_string(), "Surname".to_string()])
    );
    // Every simulated country, "D" (Germany) included.
    assert_eq!(countries.len(), 11, "{countries:?}");
}

#[test]
fn dates_are_read_from_every_submission() {
    let (today, subs) = fixture();
    // Everybody is under 100 and every valid document expires within 100 years.
    let strict = DocumentPolicy {
        expiring_days: 36_500,
        minimum_age: 100,
    };
    for s in &subs {
        let flags = document_flags(&s.payload, today, &strict);
        let codes = codes(&flags);
        assert!(codes.contains(&"under_age"), "{} #{}", s.scenario, s.index);
        let expiry = if s.scenario == "expired" {
            "document_expired"
        } else {
            "document_expiring"
        };
        assert!(codes.contains(&expiry), "{} #{}", s.scenario, s.index);
    }
}
