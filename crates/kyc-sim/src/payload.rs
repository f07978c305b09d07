//! Assembles one submission: the person, the document data, the images and the Ditto ID
//! default payload v3.0 JSON.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::docs::{self, DocArt};
use crate::draw::jpeg;
use crate::mrz::{self, MrzFields};
use crate::people::{self, PersonalCode, PEOPLE};
use crate::rng::{mix64, Rng};
use crate::text;
use crate::{Pictures, Scenario, Submission, Today};

/// Build identifier of the scanning SDK; an unknown field receivers must keep.
const SDK_BUILD: &str = "7.1.2";

/// A UUID-looking (version 4 layout) identifier.
fn uuid(r: &mut Rng) -> String {
    let (a, b) = (r.next_u64(), r.next_u64());
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (v * k).round() / k
}

fn b64_jpeg(img: &image::RgbImage) -> String {
    B64.encode(jpeg(img))
}

/// Which visual value disagrees with the MRZ in a Mismatch submission.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Altered {
    Nothing,
    Surname,
    Birth,
}

/// Changes one vowel (not the first letter): "Bērziņa" → "Bērzeņa"-like, a plausible forgery.
fn alter_surname(s: &str, r: &mut Rng) -> String {
    let chars: Vec<char> = s.chars().collect();
    let vowels: Vec<usize> = (1..chars.len())
        .filter(|&i| "aeiou".contains(chars[i]))
        .collect();
    if vowels.is_empty() {
        return format!("{s}s");
    }
    let i = *r.pick(&vowels);
    let mut out = chars;
    out[i] = match out[i] {
        'a' => 'e',
        'e' => 'a',
        'i' => 'e',
        'o' => 'a',
        _ => 'o',
    };
    out.into_iter().collect()
}

/// One identity field with its per-source values.
struct Field {
    name: &'static str,
    value: String,
    status: &'static str,
    sources: Vec<(&'static str, String)>,
}

impl Field {
    fn to_json(&self) -> Value {
        let mut sv = Map::new();
        for (k, v) in &self.sources {
            sv.insert((*k).to_string(), Value::String(v.clone()));
        }
        json!({
            "field_name": self.name,
            "field_details": {
                "field_value": self.value,
                "field_status": self.status,
                "field_source_and_values": sv,
            }
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn detail(
    element: &str,
    status: &str,
    detail: &str,
    source: &str,
    source1: &str,
    source2: &str,
    match_percentage: &str,
    page_index: u32,
) -> Value {
    json!({
        "element": element,
        "status": status,
        "detail": detail,
        "lcidName": "Latin",
        "source": source,
        "source1": source1,
        "source2": source2,
        "etalon_image": "",
        "actual_image": "",
        "match_percentage": match_percentage,
        "page_index": page_index,
    })
}

/// The hologram check's images, as Ditto ID sends them: the reference (etalon) and the captured
/// area of the front page; a tampered document's capture is washed out (no hologram).
fn hologram_images(front: &image::RgbImage, tampered: bool) -> (String, String) {
    let (w, h) = (front.width() / 4, front.height() / 4);
    let area = image::imageops::crop_imm(front, front.width() - w - w / 4, h / 4, w, h).to_image();
    let mut captured = area.clone();
    for p in captured.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = if tampered {
                200 + *c / 5
            } else {
                c.saturating_add(12)
            };
        }
    }
    (b64_jpeg(&area), b64_jpeg(&captured))
}

fn check(category: &str, name: &str, details: Vec<Value>) -> Value {
    let worst = details
        .iter()
        .filter_map(|d| d["status"].as_str())
        .max_by_key(|s| match *s {
            "ERROR" => 3,
            "WARNING" => 2,
            "NOT DONE" => 1,
            _ => 0,
        })
        .unwrap_or("NOT DONE")
        .to_string();
    json!({
        "check_category": category,
        "check_name": name,
        "check_status": worst,
        "check_detail": details,
    })
}

/// NFC outcome of the scan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nfc {
    Bypassed,
    Unsupported,
    Read,
}

pub(crate) fn build(
    requested: Scenario,
    index: u64,
    seed: u64,
    today: &Today,
    pictures: Pictures,
) -> Submission {
    let scenario = requested.for_index(index);
    let today = today.date();
    // Independent streams; the concrete scenario is part of the seed so that, e.g.,
    // clean #3 and expired #3 of the same seed are different requests.
    let sseed = seed ^ mix64(scenario as u64 + 1);
    let mut rd = Rng::derive(sseed, index, "data");
    let mut ri = Rng::derive(sseed, index, "images");

    let offset = mix64(seed) % PEOPLE.len() as u64;
    let pidx = ((index % PEOPLE.len() as u64 + offset) % PEOPLE.len() as u64) as usize;
    let person = &PEOPLE[pidx];
    let country = person.country();
    let passport = index % 3 == 2 || !person.has_id_card();

    // Dates.
    let min_age = if scenario == Scenario::Expired {
        25
    } else {
        19
    };
    let age = rd.range_i64(min_age, 72) as i32;
    let birth = today.add_years(-age).add_days(-rd.range_i64(0, 364));
    let validity = 10;
    let (issue, expiry) = if scenario == Scenario::Expired {
        let expiry = today.add_days(-rd.range_i64(20, 900));
        (expiry.add_days(1).add_years(-validity), expiry)
    } else {
        let issue = today.add_days(-rd.range_i64(40, 365 * 4));
        (issue, issue.add_years(validity).add_days(-1))
    };

    let number = people::document_number(
        if passport {
            country.passport_number
        } else {
            country.id_number
        },
        &mut rd,
    );
    let personal = people::personal_number(country.personal, birth, person.sex, &mut rd);
    let mrz_optional = match (&personal, country.personal) {
        (Some(p), PersonalCode::Finland) => p.clone(),
        (Some(p), _) => p.replace('-', ""),
        (None, _) => String::new(),
    };
    let doc_code = if passport { "P<" } else { country.id_mrz_code };
    let fields = MrzFields {
        doc_code,
        issuer: country.code,
        number: &number,
        surname: person.surname,
        given_names: person.given_names,
        nationality: country.code,
        birth,
        sex: person.sex,
        expiry,
        optional: &mrz_optional,
        tamper_number_check: scenario == Scenario::Tampered,
    };
    let mrz_lines = if passport {
        mrz::td3(&fields)
    } else {
        mrz::td1(&fields)
    };

    // What the visual zone says (differs from the MRZ for Mismatch).
    let altered = match scenario {
        Scenario::Mismatch if rd.chance(0.5) => Altered::Surname,
        Scenario::Mismatch => Altered::Birth,
        _ => Altered::Nothing,
    };
    let visual_surname_natural = if altered == Altered::Surname {
        alter_surname(person.surname, &mut rd)
    } else {
        person.surname.to_string()
    };
    let visual_birth = if altered == Altered::Birth {
        let years = rd.range_i64(1, 3) as i32;
        birth.add_years(if rd.chance(0.5) { years } else { -years })
    } else {
        birth
    };
    let v_surname = visual_surname_natural.to_uppercase();
    let v_given = person.given_names.to_uppercase();
    let true_surname_upper = person.surname.to_uppercase();
    let m_surname = text::icao(person.surname).replace('<', " ");
    let m_given = text::icao(person.given_names).replace('<', " ");

    let nfc = if scenario == Scenario::Tampered {
        Nfc::Bypassed
    } else if scenario == Scenario::Clean {
        // A clean case is clean by every check, including the chip read.
        Nfc::Read
    } else {
        match rd.below(5) {
            0 => Nfc::Unsupported,
            1 => Nfc::Read,
            _ => Nfc::Bypassed,
        }
    };
    let has_barcode = !passport;

    // Identity fields with their per-source values.
    let sources_for = |m: &str, v: Option<&str>, b: Option<&str>| {
        let mut s = vec![("M", m.to_string())];
        if let Some(v) = v {
            s.push(("V", v.to_string()));
        }
        if has_barcode {
            if let Some(b) = b {
                s.push(("B", b.to_string()));
            }
        }
        if nfc == Nfc::Read {
            s.push(("R", m.to_string()));
        }
        s
    };
    let class_code = doc_code.trim_end_matches('<').to_string();
    let err_if = |c: bool| if c { "ERROR" } else { "OK" };
    let mut id_fields = vec![
        Field {
            name: "Document class code",
            value: class_code.clone(),
            status: "OK",
            sources: sources_for(&class_code, None, None),
        },
        Field {
            name: "Issuing state code",
            value: country.code.to_string(),
            status: "OK",
            sources: sources_for(country.code, Some(country.code), None),
        },
        Field {
            name: "Issuing state name",
            value: country.name.to_string(),
            status: "OK",
            sources: vec![("M", country.name.to_string())],
        },
        Field {
            name: "Document number",
            value: number.clone(),
            status: "OK",
            sources: sources_for(&number, Some(&number), Some(&number)),
        },
        Field {
            name: "Surname",
            value: person.surname.to_string(),
            status: err_if(altered == Altered::Surname),
            sources: sources_for(&m_surname, Some(&v_surname), Some(&true_surname_upper)),
        },
        Field {
            name: "Given names",
            value: person.given_names.to_string(),
            status: "OK",
            sources: sources_for(&m_given, Some(&v_given), Some(&v_given)),
        },
        Field {
            name: "Surname and given names",
            value: format!("{} {}", person.surname, person.given_names),
            status: err_if(altered == Altered::Surname),
            sources: sources_for(
                &format!("{m_surname} {m_given}"),
                Some(&format!("{v_surname} {v_given}")),
                None,
            ),
        },
        Field {
            name: "Date of birth",
            value: birth.dotted(),
            status: err_if(altered == Altered::Birth),
            sources: sources_for(
                &birth.dotted(),
                Some(&visual_birth.dotted()),
                Some(&birth.dotted()),
            ),
        },
        Field {
            name: "Age",
            value: birth.age_on(today).to_string(),
            status: "OK",
            sources: vec![("M", birth.age_on(today).to_string())],
        },
        Field {
            name: "Sex",
            value: person.sex.to_string(),
            status: "OK",
            sources: sources_for(&person.sex.to_string(), Some(&person.sex.to_string()), None),
        },
        Field {
            name: "Nationality",
            value: country.name.to_string(),
            status: "OK",
            sources: vec![("M", country.name.to_string())],
        },
        Field {
            name: "Nationality code",
            value: country.code.to_string(),
            status: "OK",
            sources: sources_for(country.code, Some(country.code), None),
        },
        Field {
            name: "Date of expiry",
            value: expiry.dotted(),
            status: err_if(scenario == Scenario::Expired),
            sources: sources_for(
                &expiry.dotted(),
                Some(&expiry.dotted()),
                Some(&expiry.dotted()),
            ),
        },
        Field {
            name: "Date of issue",
            value: issue.dotted(),
            status: "OK",
            sources: {
                let mut s = vec![("V", issue.dotted())];
                if has_barcode {
                    s.push(("B", issue.dotted()));
                }
                s
            },
        },
    ];
    if let Some(p) = &personal {
        id_fields.push(Field {
            name: "Personal number",
            value: p.clone(),
            status: "OK",
            sources: sources_for(&mrz_optional.replace('<', "-"), Some(p), Some(p)),
        });
    }
    id_fields.push(Field {
        name: "Authority",
        value: country.authority.to_string(),
        status: "OK",
        sources: vec![("V", country.authority.to_string())],
    });
    id_fields.push(Field {
        name: "MRZ type",
        value: if passport { "TD3" } else { "TD1" }.to_string(),
        status: "OK",
        sources: vec![("M", if passport { "TD3" } else { "TD1" }.to_string())],
    });
    let mrz_joined = mrz_lines.join("\n");
    id_fields.push(Field {
        name: "MRZ lines",
        value: mrz_joined.clone(),
        status: "OK",
        sources: vec![("M", mrz_joined.clone())],
    });

    let national_fields = [
        Field {
            name: "Surname",
            value: v_surname.clone(),
            status: err_if(altered == Altered::Surname),
            sources: vec![("V", v_surname.clone())],
        },
        Field {
            name: "Given names",
            value: v_given.clone(),
            status: "OK",
            sources: vec![("V", v_given.clone())],
        },
    ];

    // Images.
    let look = person.look();
    // Its own stream: the photo varies per document without moving any other value.
    let sitting = docs::Sitting::new(&look, &mut Rng::derive(sseed, index, "portrait"));
    let photo = docs::portrait(&sitting, pictures == Pictures::Drawn);
    let title = if passport {
        country.passport_title
    } else {
        country.id_title.unwrap_or("IDENTITY CARD")
    };
    let art = DocArt {
        country,
        look: &look,
        photo: &photo,
        title,
        surname: v_surname.clone(),
        given_names: v_given.clone(),
        sex: person.sex,
        nationality: country.code,
        birth: visual_birth.dotted(),
        expiry: expiry.dotted(),
        issue: issue.dotted(),
        number: &number,
        personal: personal.as_deref(),
        authority: country.authority,
        mrz: &mrz_lines,
        tampered: scenario == Scenario::Tampered,
        art_seed: ri.next_u64(),
    };
    let mut images = Map::new();
    // Placeholders leave the "images" stream `ri` unread, which only the pictures draw from:
    // every text field comes out the same.
    let drawn = pictures == Pictures::Drawn;
    let grey = if drawn {
        String::new()
    } else {
        b64_jpeg(&image::RgbImage::from_pixel(
            8,
            8,
            image::Rgb([128, 128, 128]),
        ))
    };
    let blank = || grey.clone();
    if !passport {
        let back = if drawn {
            b64_jpeg(&docs::id_back(&art))
        } else {
            blank()
        };
        images.insert("back_page".into(), back.into());
    }
    let hologram_images = if drawn {
        let front = if passport {
            docs::passport_page(&art)
        } else {
            docs::id_front(&art)
        };
        images.insert("front_page".into(), b64_jpeg(&front).into());
        hologram_images(&front, scenario == Scenario::Tampered)
    } else {
        images.insert("front_page".into(), blank().into());
        (blank(), blank())
    };
    let portrait = if drawn { b64_jpeg(&photo) } else { blank() };
    images.insert("portrait_image".into(), portrait.into());
    images.insert("portrait_image_source".into(), "V".into());
    let selfie_look = if scenario == Scenario::Mismatch {
        let other = (pidx + 1 + ri.below(PEOPLE.len() as u64 - 1) as usize) % PEOPLE.len();
        PEOPLE[other].look()
    } else {
        look.clone()
    };
    let selfie = if drawn {
        b64_jpeg(&docs::selfie(&selfie_look, &mut ri))
    } else {
        blank()
    };

    // Scores.
    let liveness = round_to(rd.range_f64(90.0, 100.0), 2);
    let (face_score, face_status) = if scenario == Scenario::Mismatch {
        let s = 10f64.powf(rd.range_f64(-3.7, -0.05));
        (round_to(s, 4).max(0.0002), "NOT MATCHED")
    } else {
        (round_to(rd.range_f64(3.2, 5.5), 4), "MATCHED")
    };

    // Checks.
    let mandatory = [
        "Document number",
        "Surname",
        "Given names",
        "Date of birth",
        "Date of expiry",
        "Nationality code",
    ]
    .iter()
    .map(|e| detail(e, "OK", "Field is present", "MRZ", "", "", "0", 0))
    .collect();
    let expired = expiry < today;
    let expiry_detail = if expired {
        detail(
            "Date of expiry",
            "ERROR",
            &format!("Document expired on {}", expiry.dotted()),
            "MRZ",
            "",
            "",
            "0",
            0,
        )
    } else {
        detail(
            "Date of expiry",
            "OK",
            &format!("Document is valid until {}", expiry.dotted()),
            "MRZ",
            "",
            "",
            "0",
            0,
        )
    };
    let mrz_page = u32::from(!passport);
    let mut rd2 = Rng::derive(sseed, index, "compare");
    let mut compare = |element: &str, bad: bool, other: &str| {
        if bad {
            let pct = format!("{}", 40 + rd2.below(35));
            detail(
                element,
                "ERROR",
                "Values do not match",
                "",
                "VISUAL",
                other,
                &pct,
                mrz_page,
            )
        } else {
            detail(
                element,
                "OK",
                "Values match",
                "",
                "VISUAL",
                other,
                "100",
                mrz_page,
            )
        }
    };
    let mut consistency = vec![
        compare("Document number", false, "MRZ"),
        compare("Surname", altered == Altered::Surname, "MRZ"),
        compare("Given names", false, "MRZ"),
        compare("Date of birth", altered == Altered::Birth, "MRZ"),
        compare("Date of expiry", false, "MRZ"),
        compare("Sex", false, "MRZ"),
    ];
    if has_barcode {
        consistency.push(compare("Document number", false, "BARCODE"));
        consistency.push(compare("Surname", altered == Altered::Surname, "BARCODE"));
        consistency.push(compare(
            "Date of birth",
            altered == Altered::Birth,
            "BARCODE",
        ));
    }
    let mut hologram = if scenario == Scenario::Tampered {
        detail(
            "Hologram",
            "ERROR",
            "Hologram not detected",
            "",
            "",
            "",
            &format!("{}", 5 + rd.below(20)),
            0,
        )
    } else {
        detail(
            "Hologram",
            "OK",
            "Hologram detected",
            "",
            "",
            "",
            &format!("{}", 82 + rd.below(17)),
            0,
        )
    };
    hologram["etalon_image"] = hologram_images.0.into();
    hologram["actual_image"] = hologram_images.1.into();
    let pages = if passport { 1 } else { 2 };
    let glare = (0..pages)
        .map(|p| detail("Glares", "OK", "No glare detected", "", "", "", "0", p))
        .collect();
    let checks = vec![
        check("Data Validation", "Mandatory Data", mandatory),
        check(
            "Data Validation",
            "Date of Expiry Validation",
            vec![expiry_detail],
        ),
        check("Data Compliance", "Data Consistency", consistency),
        check("Document Authenticity", "Hologram", vec![hologram]),
        check("Image Quality", "Glares", glare),
    ];

    let mut errors: Vec<&str> = Vec::new();
    let mut warnings: Vec<&str> = Vec::new();
    let overall = match scenario {
        Scenario::Clean | Scenario::Mixed => "OK",
        Scenario::Expired => {
            errors.push("Expired Document");
            "ERROR"
        }
        Scenario::Mismatch => {
            if rd.chance(0.5) {
                errors.push("Data Consistency: VISUAL and MRZ values differ");
                "ERROR"
            } else {
                warnings.push("Data Consistency: VISUAL and MRZ values differ");
                "WARNING"
            }
        }
        Scenario::Tampered => {
            errors.push("Hologram check failed");
            "ERROR"
        }
    };
    let (nfc_status, nfc_reason) = match nfc {
        Nfc::Bypassed => ("NFC SCAN BYPASSED", "NFC scan cancelled by the user."),
        Nfc::Unsupported => (
            "NFC SCAN UNSUPPORTED BY DEVICE",
            "The device has no NFC reader.",
        ),
        Nfc::Read => ("NFC SCAN SUCCESSFUL", ""),
    };
    if nfc == Nfc::Bypassed && scenario != Scenario::Clean {
        warnings.push("NFC scan cancelled by the user.");
    }

    // Document info.
    let mut field_sources = vec!["M", "V"];
    if has_barcode {
        field_sources.push("B");
    }
    if nfc == Nfc::Read {
        field_sources.push("R");
    }
    let mut locales = Map::new();
    locales.insert("0".into(), "Latin".into());
    locales.insert(country.lcid.to_string(), country.language.into());
    let names: Vec<&str> = id_fields.iter().map(|f| f.name).collect();
    let field_list = if index % 2 == 0 {
        json!(names)
    } else {
        Value::Object(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (i.to_string(), Value::String((*n).to_string())))
                .collect(),
        )
    };
    let (type_code, type_name, doc_name) = if passport {
        (11, "Passport", country.passport_doc_name)
    } else {
        (
            12,
            "Identity Card",
            country.id_doc_name.unwrap_or("Identity Card"),
        )
    };

    let mut identity_data = Map::new();
    for f in &id_fields {
        identity_data.insert(f.name.to_string(), Value::String(f.value.clone()));
    }
    let mut details = Map::new();
    details.insert("0".into(), id_fields.iter().map(Field::to_json).collect());
    details.insert(
        country.lcid.to_string(),
        national_fields.iter().map(Field::to_json).collect(),
    );

    let requester_id = uuid(&mut Rng::derive(sseed, index, "requester"));
    let app_id = uuid(&mut Rng::derive(seed, 0, "app"));
    let user_id = person.user_id(&mut Rng::derive(seed, index, "user"));

    let payload = json!({
        "request_info": {
            "user_id": user_id,
            "app_id": app_id,
            "requester_id": requester_id,
        },
        "kyc_info": {
            "liveness_check": {
                "video": {
                    "autocapture_result": { "selfie_image": selfie },
                    "liveness_result": { "score": liveness },
                }
            },
            "face_matcher_result": {
                "score": face_score,
                "score_percent": 0,
                "status": face_status,
                "rule": ">= 1.6",
            },
            "document": {
                "version": "3.0",
                "document_info": {
                    "document_type_code": [type_code],
                    "document_type": [type_name],
                    "document_names": [doc_name],
                    "field_sources": field_sources,
                    "field_locales": locales,
                    "field_count": id_fields.len(),
                    "field_list": field_list,
                    "sdk_build": SDK_BUILD,
                    // Inside document_info, as the API doc's layout shows them.
                    "document_images": images,
                },
                "document_status": {
                    "error_list": errors,
                    "warning_list": warnings,
                    "is_nfc_document": true,
                    "nfc_scan_status": nfc_status,
                    "nfc_scan_status_reason": nfc_reason,
                    "checks_performed": checks,
                    "overall_document_status": overall,
                },
                "identity_data": identity_data,
                "identity_data_details": details,
                "raw_data": {
                    "ProcessingFinished": 1,
                    "TransactionInfo": {
                        "TransactionID": uuid(&mut Rng::derive(sseed, index, "transaction")),
                        "Version": SDK_BUILD,
                    },
                    "elapsedTime": 800 + rd.below(2400),
                    "mrzFormat": if passport { "TD3" } else { "TD1" },
                },
            },
        },
    });

    Submission {
        scenario,
        requester_id,
        user_id,
        surname: person.surname.to_string(),
        given_names: person.given_names.to_string(),
        document_number: number,
        payload,
    }
}
