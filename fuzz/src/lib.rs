//! What the fuzz targets and the seed generator (`examples/make_seeds.rs`) share: the AES suites
//! the `decrypt` target picks from, the custom-body mapping of `payload_mapped`, and the days of
//! receipt the document checks run on.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kyc_core::config::EncryptionConfig;
use kyc_crypto::jce::{AesSuite, Envelope};
use time::{Date, Month};

/// Every transformation × key size × envelope (× IV length for GCM): 30 suites, built from an
/// [`EncryptionConfig`] exactly as the receiver builds them.
pub fn suites() -> &'static [AesSuite] {
    static SUITES: OnceLock<Vec<AesSuite>> = OnceLock::new();
    SUITES.get_or_init(|| {
        let mut out = Vec::new();
        for spec in [
            "AES/CBC/PKCS5Padding",
            "AES/GCM/NoPadding",
            "AES/CTR/NoPadding",
            "AES/ECB/PKCS5Padding",
        ] {
            let ivs: &[Option<&str>] = match spec {
                "AES/ECB/PKCS5Padding" => &[None],
                "AES/GCM/NoPadding" => &[
                    Some("hex:000102030405060708090a0b"),
                    Some("base64:AAECAwQFBgcICQoLDA0ODw=="),
                ],
                _ => &[Some("fedcba9876543210")],
            };
            for key in [
                "0123456789abcdef",
                "hex:000102030405060708090a0b0c0d0e0f1011121314151617",
                "base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ] {
                for iv in ivs {
                    for envelope in [Envelope::Base64, Envelope::Json] {
                        let cfg = EncryptionConfig {
                            enable: true,
                            cipher_spec: spec.into(),
                            key: Some(key.into()),
                            iv: iv.map(Into::into),
                            envelope,
                            json_field: "data".into(),
                        };
                        let suite = cfg
                            .suite("receiver.request_encryption")
                            .expect("the fuzz suites are valid configs");
                        out.push(suite);
                    }
                }
            }
        }
        out
    })
}

/// The suite a `decrypt` input's first byte selects.
pub fn suite_for(selector: u8) -> &'static AesSuite {
    let all = suites();
    &all[usize::from(selector) % all.len()]
}

/// A small `[receiver.mapping]` for custom bodies: plain, nested, array-indexed and overlapping
/// pointers, an image, a score and the document type.
pub fn mapping() -> BTreeMap<String, String> {
    [
        ("user_id", "/userId"),
        ("requester_id", "/ref"),
        ("name", "/holder"),
        ("surname", "/holder/surname"),
        ("given_names", "/holder/given~1names"),
        ("date_of_birth", "/dob"),
        ("document_number", "/doc/number"),
        ("document_type", "/doc/type"),
        ("date_of_expiry", "/doc/expiry"),
        ("face_score", "/scores/0"),
        ("liveness_score", "/scores/1"),
        ("selfie_image", "/selfie"),
        ("front_page", "/pages/0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Days of receipt for the document checks: before the ICAO specimens expired, a recent day, and
/// the edges of a leap year and of a century.
pub fn received_dates() -> [Date; 4] {
    let d = |y, m, day| Date::from_calendar_date(y, m, day).expect("a real date");
    [
        d(2011, Month::June, 1),
        d(2025, Month::June, 1),
        d(2024, Month::February, 29),
        d(2099, Month::December, 31),
    ]
}

/// What must hold for every submission `ingest` accepts: its stored raw payload reads back into
/// the model (the case view and reports re-read it), and the checks run on it without a panic.
pub fn check_accepted(sub: &kyc_core::ingest::Submission) {
    let reread = kyc_core::ingest::reparse(&sub.raw_json);
    assert!(
        reread.is_ok(),
        "an accepted payload's stored form does not read back: {:?}",
        reread.err()
    );
    for image in &sub.images {
        assert!(
            sub.raw_json
                .contains(&format!("{}{}", kyc_core::ingest::IMAGE_MARKER, image.name)),
            "image {} left no marker",
            image.name
        );
    }
    run_checks(&sub.payload);
}

/// KYC Desk's own checks (document checks included) on every day of [`received_dates`].
pub fn run_checks(payload: &kyc_domain::model::Payload) {
    let policy = kyc_core::config::DecisionConfig::default();
    for day in received_dates() {
        let _ = kyc_domain::checks::evaluate(payload, &policy, day);
    }
}
