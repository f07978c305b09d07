//! Tests of the generated submissions against the payload contract and ICAO 9303.

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;

use crate::date::Date;
use crate::mrz::{validate_td1, validate_td3};
use crate::*;

const TODAY: Today = Today {
    year: 2025,
    month: 6,
    day: 15,
};

fn doc(s: &Submission) -> &Value {
    &s.payload["kyc_info"]["document"]
}

fn mrz_lines(s: &Submission) -> Vec<String> {
    doc(s)["identity_data"]["MRZ lines"]
        .as_str()
        .expect("MRZ lines")
        .split('\n')
        .map(str::to_string)
        .collect()
}

fn parse_dotted(s: &str) -> Date {
    let p: Vec<&str> = s.split('.').collect();
    assert_eq!(p.len(), 3, "{s}");
    Date::new(
        p[2].parse().unwrap(),
        p[1].parse().unwrap(),
        p[0].parse().unwrap(),
    )
}

fn is_passport(s: &Submission) -> bool {
    doc(s)["document_info"]["document_type_code"][0] == 11
}

fn check<'a>(s: &'a Submission, name: &str) -> &'a Value {
    doc(s)["document_status"]["checks_performed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

#[test]
fn icao_specimen_check_digits() {
    // ICAO 9303 Part 4 TD3 specimen (Anna Maria Eriksson, Utopia).
    assert_eq!(mrz_check_digit("L898902C3"), 6);
    assert_eq!(mrz_check_digit("740812"), 2);
    assert_eq!(mrz_check_digit("120415"), 9);
    assert_eq!(mrz_check_digit("ZE184226B<<<<<"), 1);
    assert_eq!(
        mrz_check_digit("L898902C3674081221204159ZE184226B<<<<<1"),
        0
    );
    // ICAO 9303 Part 5 TD1 specimen.
    assert_eq!(mrz_check_digit("D23145890"), 7);
    assert_eq!(
        mrz_check_digit("D231458907<<<<<<<<<<<<<<<74081221204159<<<<<<<<<<<"),
        6
    );
    validate_td3(&[
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ])
    .unwrap();
    validate_td1(&[
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ])
    .unwrap();
}

#[test]
fn scenario_names_round_trip() {
    for s in Scenario::ALL {
        assert_eq!(s.as_str().parse::<Scenario>().unwrap(), s);
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!(" Mixed ".parse::<Scenario>().unwrap(), Scenario::Mixed);
    let err = "dirty".parse::<Scenario>().unwrap_err().to_string();
    for name in ["clean", "expired", "mismatch", "tampered", "mixed"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn mixed_rotates_scenarios() {
    let want = [
        Scenario::Clean,
        Scenario::Expired,
        Scenario::Mismatch,
        Scenario::Tampered,
    ];
    for i in 0..8u64 {
        assert_eq!(Scenario::Mixed.for_index(i), want[(i % 4) as usize]);
    }
    for i in 0..4u64 {
        let s = generate(Scenario::Mixed, i, 11, &TODAY);
        assert_eq!(s.scenario, want[i as usize]);
        // Mixed #i is exactly the concrete scenario's #i.
        let direct = generate(want[i as usize], i, 11, &TODAY);
        assert_eq!(s.payload, direct.payload);
    }
    assert_eq!(Scenario::Clean.for_index(3), Scenario::Clean);
}

#[test]
fn mrz_lines_are_valid_except_when_tampered() {
    let mut seen_td1 = false;
    let mut seen_td3 = false;
    for scenario in [
        Scenario::Clean,
        Scenario::Expired,
        Scenario::Mismatch,
        Scenario::Tampered,
    ] {
        for i in 0..6u64 {
            let s = generate(scenario, i, 5, &TODAY);
            let lines = mrz_lines(&s);
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            for l in &lines {
                assert!(l.is_ascii(), "{l}");
            }
            let result = if is_passport(&s) {
                seen_td3 = true;
                assert_eq!(lines.len(), 2);
                assert!(lines.iter().all(|l| l.len() == 44));
                assert!(lines[0].starts_with("P<"));
                validate_td3(&refs)
            } else {
                seen_td1 = true;
                assert_eq!(lines.len(), 3);
                assert!(lines.iter().all(|l| l.len() == 30));
                validate_td1(&refs)
            };
            if scenario == Scenario::Tampered {
                let err = result.expect_err("tampered MRZ must fail");
                assert!(err.starts_with("document number"), "{err}");
            } else {
                result.unwrap_or_else(|e| panic!("{scenario:?} #{i}: {e}\n{}", lines.join("\n")));
            }
            // The MRZ carries the (true) document number.
            assert!(lines.join("").contains(&s.document_number));
        }
    }
    assert!(seen_td1 && seen_td3);
}

#[test]
fn images_are_base64_jpegs_of_the_expected_size() {
    for i in 0..3u64 {
        let s = generate(Scenario::Mixed, i, 9, &TODAY);
        let images = &doc(&s)["document_info"]["document_images"];
        let mut expected = vec![
            (&images["portrait_image"], PORTRAIT_SIZE),
            (
                &s.payload["kyc_info"]["liveness_check"]["video"]["autocapture_result"]
                    ["selfie_image"],
                SELFIE_SIZE,
            ),
        ];
        if is_passport(&s) {
            assert!(images.get("back_page").is_none());
            expected.push((&images["front_page"], PASSPORT_PAGE_SIZE));
        } else {
            expected.push((&images["front_page"], CARD_SIZE));
            expected.push((&images["back_page"], CARD_SIZE));
        }
        assert_eq!(images["portrait_image_source"], "V");
        for (v, (w, h)) in expected {
            let text = v.as_str().expect("image is a string");
            assert!(!text.starts_with("data:"));
            let bytes = B64.decode(text).expect("valid base64");
            assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
            let reader = image::ImageReader::new(Cursor::new(&bytes))
                .with_guessed_format()
                .unwrap();
            assert_eq!(reader.format(), Some(image::ImageFormat::Jpeg));
            assert_eq!(reader.into_dimensions().unwrap(), (w, h));
        }
    }
}

#[test]
fn expired_is_expired_and_clean_is_not() {
    let today = Date::new(TODAY.year, TODAY.month, TODAY.day);
    for i in 0..4u64 {
        let clean = generate(Scenario::Clean, i, 1, &TODAY);
        let d = doc(&clean);
        let expiry = parse_dotted(d["identity_data"]["Date of expiry"].as_str().unwrap());
        assert!(expiry > today, "clean expiry {expiry:?}");
        let birth = parse_dotted(d["identity_data"]["Date of birth"].as_str().unwrap());
        assert!(birth.age_on(today) >= 18);
        let st = &d["document_status"];
        assert_eq!(st["overall_document_status"], "OK");
        assert_eq!(st["error_list"], serde_json::json!([]));
        assert_eq!(
            check(&clean, "Date of Expiry Validation")["check_status"],
            "OK"
        );
        assert_eq!(
            clean.payload["kyc_info"]["face_matcher_result"]["status"],
            "MATCHED"
        );
        let live = clean.payload["kyc_info"]["liveness_check"]["video"]["liveness_result"]["score"]
            .as_f64()
            .unwrap();
        assert!((90.0..=100.0).contains(&live));
        for c in d["document_status"]["checks_performed"].as_array().unwrap() {
            assert_eq!(c["check_status"], "OK", "{c}");
        }

        let expired = generate(Scenario::Expired, i, 1, &TODAY);
        let d = doc(&expired);
        let expiry = parse_dotted(d["identity_data"]["Date of expiry"].as_str().unwrap());
        assert!(expiry < today, "expired expiry {expiry:?}");
        let issue = parse_dotted(d["identity_data"]["Date of issue"].as_str().unwrap());
        assert!(issue < expiry);
        let st = &d["document_status"];
        assert_eq!(st["overall_document_status"], "ERROR");
        assert_eq!(st["error_list"][0], "Expired Document");
        assert_eq!(
            check(&expired, "Date of Expiry Validation")["check_status"],
            "ERROR"
        );
        // The MRZ holds the expired date with a valid check digit.
        let lines = mrz_lines(&expired);
        let yymmdd = expiry.yymmdd();
        assert!(lines.join("").contains(&yymmdd));
    }
}

#[test]
fn mismatch_has_a_different_face_and_inconsistent_data() {
    for i in 0..4u64 {
        let s = generate(Scenario::Mismatch, i, 3, &TODAY);
        let fm = &s.payload["kyc_info"]["face_matcher_result"];
        assert_eq!(fm["status"], "NOT MATCHED");
        let score = fm["score"].as_f64().unwrap();
        assert!((0.0002..1.0).contains(&score), "{score}");
        assert_eq!(fm["score_percent"], 0);
        let c = check(&s, "Data Consistency");
        assert_eq!(c["check_status"], "ERROR");
        let bad: Vec<&Value> = c["check_detail"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "ERROR")
            .collect();
        assert!(bad
            .iter()
            .any(|d| d["source1"] == "VISUAL" && d["source2"] == "MRZ"));
        let overall = &doc(&s)["document_status"]["overall_document_status"];
        assert!(overall == "WARNING" || overall == "ERROR");
        // The erroneous field really differs between the visual zone and the MRZ.
        let element = bad[0]["element"].as_str().unwrap();
        let field = doc(&s)["identity_data_details"]["0"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field_name"] == element)
            .unwrap();
        let sv = &field["field_details"]["field_source_and_values"];
        let (m, v) = (sv["M"].as_str().unwrap(), sv["V"].as_str().unwrap());
        let normalise = |x: &str| crate::text::icao(x).replace('<', " ");
        assert_ne!(normalise(m), normalise(v), "{element}");
        assert_eq!(field["field_details"]["field_status"], "ERROR");
    }
}

#[test]
fn tampered_fails_the_hologram() {
    for i in 0..2u64 {
        let s = generate(Scenario::Tampered, i, 4, &TODAY);
        assert_eq!(check(&s, "Hologram")["check_status"], "ERROR");
        assert_eq!(
            check(&s, "Hologram")["check_category"],
            "Document Authenticity"
        );
        assert_eq!(
            doc(&s)["document_status"]["overall_document_status"],
            "ERROR"
        );
        assert_eq!(
            s.payload["kyc_info"]["face_matcher_result"]["status"],
            "MATCHED"
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let a = generate(Scenario::Mixed, 2, 77, &TODAY);
    let b = generate(Scenario::Mixed, 2, 77, &TODAY);
    assert_eq!(
        serde_json::to_vec(&a.payload).unwrap(),
        serde_json::to_vec(&b.payload).unwrap()
    );
    assert_eq!(a.requester_id, b.requester_id);
    let c = generate(Scenario::Mixed, 2, 78, &TODAY);
    assert_ne!(a.requester_id, c.requester_id);
    let d = generate(Scenario::Mixed, 3, 77, &TODAY);
    assert_ne!(a.requester_id, d.requester_id);
    // Same seed and index, different scenario: a different request.
    let e = generate(Scenario::Clean, 2, 77, &TODAY);
    assert_ne!(a.requester_id, e.requester_id);
}

/// Walks two payloads in step: equal everywhere but in JPEG strings, which it counts.
fn same_but_images(a: &Value, b: &Value, images: &mut usize) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert!(x.keys().eq(y.keys()), "{:?} vs {:?}", x.keys(), y.keys());
            for (k, v) in x {
                same_but_images(v, &y[k], images);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len());
            for (v, w) in x.iter().zip(y) {
                same_but_images(v, w, images);
            }
        }
        (Value::String(x), Value::String(y)) if x != y => {
            assert!(
                x.starts_with("/9j/") && y.starts_with("/9j/"),
                "{x:.40} vs {y:.40}"
            );
            *images += 1;
        }
        _ => assert_eq!(a, b),
    }
}

#[test]
fn placeholders_change_the_images_and_nothing_else() {
    for scenario in [
        Scenario::Clean,
        Scenario::Expired,
        Scenario::Mismatch,
        Scenario::Tampered,
    ] {
        for index in 0..3 {
            let drawn = generate(scenario, index, 5, &TODAY);
            let plain = generate_with(scenario, index, 5, &TODAY, Pictures::Placeholders);
            let mut images = 0;
            same_but_images(&drawn.payload, &plain.payload, &mut images);
            // Front page, portrait, selfie and the hologram's two crops (and an ID card's back).
            assert!(images >= 5, "{scenario:?} {index}: {images} images differ");
            assert_eq!(drawn.document_number, plain.document_number);
        }
    }
}

#[test]
fn field_list_appears_in_both_shapes() {
    let even = generate(Scenario::Clean, 0, 8, &TODAY);
    let odd = generate(Scenario::Clean, 1, 8, &TODAY);
    let fe = &doc(&even)["document_info"]["field_list"];
    let fo = &doc(&odd)["document_info"]["field_list"];
    assert!(fe.is_array());
    assert!(fo.is_object());
    assert_eq!(fo["0"], "Document class code");
    for (s, list_len) in [
        (&even, fe.as_array().unwrap().len()),
        (&odd, fo.as_object().unwrap().len()),
    ] {
        assert_eq!(doc(s)["document_info"]["field_count"], list_len);
    }
}

#[test]
fn payload_has_the_documented_shape() {
    for i in 0..4u64 {
        let s = generate(Scenario::Mixed, i, 21, &TODAY);
        let p = &s.payload;
        let ri = &p["request_info"];
        assert_eq!(ri["requester_id"], s.requester_id.as_str());
        assert_eq!(ri["user_id"], s.user_id.as_str());
        for id in [&ri["requester_id"], &ri["app_id"]] {
            let id = id.as_str().unwrap();
            assert_eq!(id.len(), 36);
            assert_eq!(id.matches('-').count(), 4);
        }
        let d = doc(&s);
        assert_eq!(d["version"], "3.0");
        let info = &d["document_info"];
        assert_eq!(info["sdk_build"], "7.1.2", "an unknown field to keep");
        let passport = is_passport(&s);
        assert_eq!(
            info["document_type"][0],
            if passport {
                "Passport"
            } else {
                "Identity Card"
            }
        );
        assert!(info["document_names"][0].as_str().unwrap().contains(" - "));
        assert_eq!(info["field_locales"]["0"], "Latin");
        let sources: Vec<&str> = info["field_sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(sources.starts_with(&["M", "V"]));
        assert_eq!(sources.contains(&"B"), !passport);
        let st = &d["document_status"];
        for key in [
            "error_list",
            "warning_list",
            "is_nfc_document",
            "nfc_scan_status",
            "nfc_scan_status_reason",
            "checks_performed",
            "overall_document_status",
        ] {
            assert!(st.get(key).is_some(), "{key}");
        }
        for c in st["checks_performed"].as_array().unwrap() {
            for det in c["check_detail"].as_array().unwrap() {
                assert!(det["match_percentage"].is_string());
                assert!(det["page_index"].is_u64());
                // The hologram check carries its reference and captured images (JPEG); the
                // others send "" as Ditto ID does.
                let hologram = c["check_name"] == "Hologram";
                for which in ["etalon_image", "actual_image"] {
                    let b64 = det[which].as_str().unwrap();
                    if hologram {
                        assert!(b64.starts_with("/9j/"), "{which} is a JPEG");
                    } else {
                        assert_eq!(b64, "", "{which}");
                    }
                }
            }
        }
        let id = &d["identity_data"];
        for key in [
            "Document number",
            "Surname",
            "Given names",
            "Date of birth",
            "Date of expiry",
            "Date of issue",
            "Nationality",
            "Sex",
            "Issuing state code",
            "Document class code",
            "MRZ lines",
        ] {
            assert!(id[key].is_string(), "{key}");
        }
        assert_eq!(id["Surname"], s.surname.as_str());
        assert_eq!(id["Given names"], s.given_names.as_str());
        assert_eq!(id["Document number"], s.document_number.as_str());
        let details = d["identity_data_details"]["0"].as_array().unwrap();
        assert_eq!(
            details.len(),
            info["field_count"].as_u64().unwrap() as usize
        );
        for f in details {
            let fd = &f["field_details"];
            assert!(fd["field_value"].is_string());
            assert!(fd["field_source_and_values"].is_object());
        }
        assert_eq!(p["kyc_info"]["face_matcher_result"]["score_percent"], 0);
        assert!(d["raw_data"].is_object());
    }
}

#[test]
fn people_vary_and_mrz_names_are_transliterated() {
    let mut surnames = std::collections::BTreeSet::new();
    let mut passports = 0;
    for i in 0..16u64 {
        let s = generate(Scenario::Clean, i, 0, &TODAY);
        surnames.insert(s.surname.clone());
        passports += usize::from(is_passport(&s));
    }
    assert_eq!(
        surnames.len(),
        16,
        "16 consecutive indexes cycle through all people"
    );
    assert!((4..16).contains(&passports));
    let anna = (0..16u64)
        .map(|i| generate(Scenario::Clean, i, 0, &TODAY))
        .find(|s| s.surname == "Bērziņa")
        .unwrap();
    assert!(mrz_lines(&anna).join("\n").contains("BERZINA<<ANNA"));
}

#[test]
fn today_from_unix_seconds() {
    assert_eq!(
        Today::from_unix_seconds(0),
        Today {
            year: 1970,
            month: 1,
            day: 1
        }
    );
    assert_eq!(
        Today::from_unix_seconds(1_749_945_600),
        Today {
            year: 2025,
            month: 6,
            day: 15
        }
    );
}
