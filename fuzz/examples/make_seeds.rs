//! Writes the seed corpora in `fuzz/seeds/<target>/`: a few valid inputs per fuzz target, made
//! from the simulator (`kyc_sim::generate`, images shrunk to tiny real JPEG/PNG files), the ICAO
//! 9303 specimen MRZs, the README's config example and the first-start config.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds` (deterministic output).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use base64::Engine;
use kyc_core::config::Config;
use kyc_sim::{Scenario, Today};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The ICAO 9303 specimens (as in `kyc_domain::mrz::specimens`).
const TD3: &str =
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
const TD2: &str = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let today = Today {
        year: 2025,
        month: 6,
        day: 1,
    };
    let sims: Vec<Value> = [
        (Scenario::Clean, 0),
        (Scenario::Clean, 1),
        (Scenario::Expired, 0),
        (Scenario::Clean, 2),
        (Scenario::Mismatch, 1),
        (Scenario::Tampered, 5),
    ]
    .into_iter()
    .map(|(scenario, index)| kyc_sim::generate(scenario, index, 42, &today).payload)
    .collect();

    payload_seeds(&root.join("payload"), &sims);
    mapped_seeds(&root.join("payload_mapped"));
    decrypt_seeds(&root.join("decrypt"));
    mrz_seeds(&root.join("mrz"), &sims);
    idcheck_seeds(&root.join("idcheck"), &sims);
    config_seeds(&root.join("config"));
    image_seeds(&root.join("image"));
}

/// The image fixtures of kyc-core's tests (JPEG 2000 as JP2 and codestream, WebP, GIF, PDF) and
/// tiny PNG/JPEG files.
fn image_seeds(dir: &Path) {
    reset(dir);
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/kyc-core/tests/fixtures/images");
    for name in [
        "portrait.jp2",
        "portrait.j2k",
        "page.webp",
        "page.gif",
        "scan.pdf",
    ] {
        write(dir, name, std::fs::read(fixtures.join(name)).unwrap());
    }
    write(dir, "tiny.png", tiny_png());
    write(dir, "tiny.jpg", tiny_jpeg());
}

fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(4, 3, image::Rgb([200, 120, 40]))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn tiny_jpeg() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(8, 8, image::Rgb([90, 160, 220]))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

/// Replaces every long string (the simulator's base64 JPEGs) by a tiny image, JPEG and PNG in turn.
fn shrink_images(v: &mut Value, turn: &mut usize) {
    match v {
        Value::String(s) if s.len() > 512 => {
            *turn += 1;
            *s = B64.encode(if *turn & 1 == 0 {
                tiny_png()
            } else {
                tiny_jpeg()
            });
        }
        Value::Array(items) => items.iter_mut().for_each(|i| shrink_images(i, turn)),
        Value::Object(map) => map.values_mut().for_each(|i| shrink_images(i, turn)),
        _ => {}
    }
}

/// Removes every long string (images say nothing to the document checks).
fn drop_images(v: &mut Value) {
    match v {
        Value::String(s) if s.len() > 512 => s.clear(),
        Value::Array(items) => items.iter_mut().for_each(drop_images),
        Value::Object(map) => map.values_mut().for_each(drop_images),
        _ => {}
    }
}

fn reset(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    println!(
        "{} ({} bytes)",
        path.display(),
        std::fs::metadata(&path).unwrap().len()
    );
}

fn payload_seeds(dir: &Path, sims: &[Value]) {
    reset(dir);
    for (i, sim) in sims.iter().enumerate() {
        let mut v = sim.clone();
        shrink_images(&mut v, &mut i.clone());
        write(
            dir,
            &format!("sim-{i}.json"),
            serde_json::to_vec(&v).unwrap(),
        );
    }
    write(
        dir,
        "minimal.json",
        br#"{"request_info":{"user_id":"u1","requester_id":"r-1"}}"#,
    );
    let png = B64.encode(tiny_png());
    // A data: URL, MIME-wrapped base64, an empty image and a check image.
    let wrapped: String = B64
        .encode(tiny_jpeg())
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let body = json!({
        "request_info": {"user_id": "u1", "requester_id": "r-1", "app_id": "app"},
        "unknown": {"kept": true},
        "kyc_info": {
            "liveness_check": {"video": {
                "autocapture_result": {"selfie_image": format!("data:image/png;base64,{png}")},
                "liveness_result": {"score": "97.5"}
            }},
            "face_matcher_result": {"score": 2.1},
            "document": {
                "document_images": {"portrait_image": wrapped},
                "document_info": {"document_type": ["Passport"], "document_images": {"front_page": png, "back_page": ""}},
                "document_status": {
                    "overall_document_status": "OK",
                    "checks_performed": [{"check_name": "Hologram", "check_status": "OK",
                        "check_detail": [{"etalon_image": png, "actual_image": null}]}]
                },
                "identity_data": {"MRZ lines": TD3, "Document number": "L898902C3"}
            }
        }
    });
    write(dir, "images.json", serde_json::to_vec(&body).unwrap());
    // What the tolerant reader coerces or keeps raw: text for booleans and numbers, empty and
    // NaN scores, a braced requester id, a number as a string field.
    let odd = json!({
        "request_info": {"user_id": 42, "requester_id": "{0F8FAD5B-D9CB-469F-A165-70867728950E}"},
        "kyc_info": {
            "liveness_check": {"video": {"liveness_result": {"score": "NaN"}}},
            "face_matcher_result": {"score": "", "score_percent": "3"},
            "document": {
                "document_info": {"field_count": "3", "document_type_code": "11", "field_locales": {"0": "Latin", "1062": 1062}},
                "document_status": {"is_nfc_document": "true", "error_list": "Expired Document",
                    "checks_performed": {"check_name": "Hologram", "check_detail": [{"match_percentage": 87}]}},
                "identity_data": {"Document number": 123456}
            }
        }
    });
    write(dir, "odd-types.json", serde_json::to_vec(&odd).unwrap());
}

fn mapped_seeds(dir: &Path) {
    reset(dir);
    let png = B64.encode(tiny_png());
    let jpeg = B64.encode(tiny_jpeg());
    let bodies = [
        json!({"userId": "cust-42", "holder": "Anna Berzina", "dob": "1985-03-12",
               "doc": {"number": "PA9992592", "type": "Passport", "expiry": "2031-01-31"}}),
        json!({"userId": "cust-43", "ref": "req-43", "holder": {"surname": "Berzina", "given/names": "Anna"},
               "scores": [2.4, "99.1"], "selfie": jpeg, "pages": [png]}),
        json!({"userId": 17, "holder": "A"}),
        json!({"holder": "no user id"}),
    ];
    for (i, b) in bodies.iter().enumerate() {
        write(
            dir,
            &format!("custom-{i}.json"),
            serde_json::to_vec(b).unwrap(),
        );
    }
}

fn decrypt_seeds(dir: &Path) {
    reset(dir);
    let plain = br#"{"request_info":{"user_id":"u1","requester_id":"r-1"}}"#;
    for (i, suite) in kyc_desk_fuzz::suites().iter().enumerate() {
        let (sealed, _) = suite.seal_body(plain);
        let mut input = vec![u8::try_from(i).unwrap()];
        input.extend_from_slice(&sealed);
        write(dir, &format!("suite-{i:02}.bin"), input);
    }
    // A JSON-quoted base64 body and garbage.
    let (sealed, _) = kyc_desk_fuzz::suite_for(0).seal_body(b"{}");
    let mut quoted = vec![0u8];
    quoted.extend_from_slice(format!("\"{}\"", String::from_utf8(sealed).unwrap()).as_bytes());
    write(dir, "quoted.bin", quoted);
    write(dir, "garbage.bin", b"\x05%%% not base64");
}

fn mrz_text(sim: &Value) -> String {
    sim.pointer("/kyc_info/document/identity_data/MRZ lines")
        .and_then(Value::as_str)
        .expect("simulated documents have an MRZ")
        .to_string()
}

fn mrz_seeds(dir: &Path, sims: &[Value]) {
    reset(dir);
    for (name, text) in [("td1", TD1), ("td2", TD2), ("td3", TD3)] {
        write(dir, &format!("{name}.txt"), text);
        write(dir, &format!("{name}-joined.txt"), text.replace('\n', ""));
        write(dir, &format!("{name}-crlf.txt"), text.replace('\n', "\r\n"));
        write(dir, &format!("{name}-spaced.txt"), text.replace('\n', " "));
        write(
            dir,
            &format!("{name}-lower.txt"),
            format!("  {}\n\n", text.to_lowercase()),
        );
    }
    // A visa (no composite), a TD1 long document number, a TD3 with an empty personal number.
    write(
        dir,
        "visa.txt",
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<<<",
    );
    let cd = kyc_domain::mrz::check_digit;
    let l1 = format!("I<UTOD23145890<1234{}<ABC<<<<<<", cd("D231458901234"));
    let l2 = "7408122F1204159UTO<<<<<<<<<<<";
    let composite = cd(&format!(
        "{}{}{}{}",
        &l1[5..30],
        &l2[0..7],
        &l2[8..15],
        &l2[18..29]
    ));
    write(
        dir,
        "td1-long-number.txt",
        format!("{l1}\n{l2}{composite}\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"),
    );
    let composite = cd("L898902C3674081221204159<<<<<<<<<<<<<<<");
    write(
        dir,
        "td3-no-personal.txt",
        format!("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159<<<<<<<<<<<<<<<{composite}"),
    );
    for (i, sim) in sims.iter().enumerate() {
        write(dir, &format!("sim-{i}.txt"), mrz_text(sim));
    }
}

fn idcheck_seeds(dir: &Path, sims: &[Value]) {
    reset(dir);
    for (i, sim) in sims.iter().enumerate() {
        let mut v = sim.clone();
        drop_images(&mut v);
        write(
            dir,
            &format!("sim-{i}.json"),
            serde_json::to_vec(&v).unwrap(),
        );
    }
    // The TD3 specimen with every field by source, national-script values, dates in other formats.
    let detail = |name: &str, m: &str, v: &str| json!({"field_name": name, "field_details": {"field_source_and_values": {"M": m, "V": v}}});
    let body = json!({"kyc_info": {"document": {
        "identity_data": {"MRZ lines": TD3, "Date of issue": "15 APR 2002", "Date of birth": "740812"},
        "identity_data_details": {
            "0": [
                detail("Document number", "L898902C3", "L898902C3"),
                detail("Surname", "ERIKSSON", "Eriksson"),
                detail("Given names", "ANNA MARIA", "Anna María"),
                detail("Date of birth", "12.08.1974", "1974-08-12"),
                detail("Date of expiry", "15.04.2012", "15/04/2012"),
                detail("Sex", "F", "W/F"),
                detail("Nationality code", "UTO", "UTO")
            ],
            "ru": [detail("Surname", "ERIKSSON", "ЭРИКССОН")]
        }
    }}});
    write(dir, "specimen.json", serde_json::to_vec(&body).unwrap());
    let td1 = json!({"kyc_info": {"document": {"identity_data": {"MRZ lines": TD1}}}});
    write(dir, "td1.json", serde_json::to_vec(&td1).unwrap());
}

/// The first ```toml block of the README.
fn readme_config() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("```toml\n")
        .expect("the README has a toml block")
        + 8;
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_string()
}

fn config_seeds(dir: &Path) {
    reset(dir);
    let readme = readme_config();
    write(dir, "readme.toml", &readme);
    // The same with its placeholders filled in, so that it validates.
    let filled = readme
        .replace("<random>", "0123456789abcdef0123")
        .replace("<32 random characters>", "0123456789abcdef0123456789abcdef")
        .replace("<16 random characters>", "fedcba9876543210")
        .replace("<at least 16 characters>", "a webhook secret!!")
        // The README leaves the answer keys to "same keys"; spell them out.
        .replace(
            "[receiver.response_encryption]",
            "[receiver.response_encryption]\nkey = \"0123456789abcdef0123456789abcdef\"\niv = \"fedcba9876543210\"",
        );
    if let Err(e) = kyc_core::config::parse(&filled) {
        panic!("the filled README config does not parse: {e}");
    }
    write(dir, "readme-filled.toml", &filled);
    // The first start's config, its random secrets replaced so that the seed is the same each run.
    let mut first = Config::first_start();
    first.receiver.auth.client_secret =
        Some("00112233445566778899aabbccddeeff0011223344556677".into());
    for enc in [
        &mut first.receiver.request_encryption,
        &mut first.receiver.response_encryption,
    ] {
        enc.key = Some("0123456789abcdef0123456789abcdef".into());
        enc.iv = Some("fedcba9876543210".into());
    }
    write(
        dir,
        "first-start.toml",
        toml::to_string_pretty(&first).unwrap(),
    );
    write(dir, "empty.toml", "");
    write(
        dir,
        "custom-gcm.toml",
        r#"[receiver]
listen = "127.0.0.1:0"
[receiver.auth]
mode = "bearer"
token = "0123456789abcdef0123"
[receiver.request_encryption]
enable = true
cipher_spec = "AES/GCM/NoPadding"
key = "hex:000102030405060708090a0b0c0d0e0f"
iv = "base64:AAAAAAAAAAAAAAAA"
envelope = "json"
json_field = "payload"
[receiver.mapping]
user_id = "/userId"
name = "/name"
[decision]
auto_approve = "clean"
auto_reject = ["document_expired", "mrz_check_digit"]
[[decision.reasons]]
code = "other"
label = "Other"
"#,
    );
    write(dir, "bad-key.toml", "[receiver]\nlisen = \"1.2.3.4:5\"\n");
}
