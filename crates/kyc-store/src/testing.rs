//! Test helper (the unit tests' and the conformance suite's): a simulated body opened into a [`Submission`] the way kyc-core's ingest opens a
//! body in the payload's own shape (images taken out by name and replaced by markers), without
//! its checks: the store's tests need what is stored, not what is refused. The selfie's hash
//! stands in for the perceptual one (decoding images is kyc-core's): equal bytes, equal hash.

use base64::Engine;
use kyc_domain::submission::{Image, ImageFormat, Submission};
use serde_json::Value;
use sha2::{Digest, Sha256};

const IMAGES: &[(&str, &str)] = &[
    (
        "selfie",
        "/kyc_info/liveness_check/video/autocapture_result/selfie_image",
    ),
    (
        "front_page",
        "/kyc_info/document/document_info/document_images/front_page",
    ),
    (
        "back_page",
        "/kyc_info/document/document_info/document_images/back_page",
    ),
    (
        "portrait_image",
        "/kyc_info/document/document_info/document_images/portrait_image",
    ),
];

/// The submission a store receives for this JSON body (a simulated Ditto ID payload).
pub fn submission(body: &str) -> Submission {
    let mut root: Value = serde_json::from_str(body).expect("a JSON body");
    let mut images = Vec::new();
    for (name, pointer) in IMAGES {
        if let Some(v) = root.pointer_mut(pointer) {
            if let Some(b64) = v.as_str() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("base64 image");
                images.push(Image {
                    name: (*name).to_string(),
                    format: ImageFormat::Jpeg,
                    width: 0,
                    height: 0,
                    bytes,
                    problem: None,
                });
                *v = Value::String(format!("kyc-desk:image/{name}"));
            }
        }
    }
    let selfie_hash = images.iter().find(|i| i.name == "selfie").map(|i| {
        let digest = Sha256::digest(&i.bytes);
        u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"))
    });
    // Identical bytes give identical hashes: enough to test what the store does with them.
    let portrait_hash = images.iter().find(|i| i.name == "portrait_image").map(|i| {
        let (a, b) = (
            Sha256::digest(&i.bytes),
            Sha256::digest(Sha256::digest(&i.bytes)),
        );
        let quarter = |d: &[u8]| u128::from_be_bytes(d.try_into().expect("16 bytes"));
        [
            quarter(&a[..16]),
            quarter(&a[16..]),
            quarter(&b[..16]),
            quarter(&b[16..]),
        ]
    });
    let text = |p: &str| root.pointer(p).and_then(Value::as_str).map(str::to_string);
    Submission {
        requester_id: text("/request_info/requester_id").expect("a requester id"),
        user_id: text("/request_info/user_id").unwrap_or_default(),
        app_id: text("/request_info/app_id"),
        payload: serde_json::from_value(root.clone()).expect("the payload model"),
        raw_json: root.to_string(),
        model_json: None,
        images,
        custom: None,
        coerced: Vec::new(),
        selfie_hash,
        portrait_hash,
    }
}
