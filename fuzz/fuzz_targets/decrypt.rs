//! Decryption: the first byte picks one of 30 AES suites (CBC/GCM/CTR/ECB, 128/192/256-bit keys,
//! base64 or JSON envelope); opening the rest as a received body fails only with the one uniform
//! error, never a panic, and sealing the rest then opening it gives it back.
#![no_main]

use kyc_core::ingest::{self, SealedBody};
use kyc_core::CoreError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let suite = kyc_desk_fuzz::suite_for(selector);

    // Any body: the receiver's path, SealedBody → OpenedBody → Submission.
    match SealedBody(rest.to_vec()).open(Some(suite)) {
        Ok(opened) => {
            assert!(opened.was_encrypted);
            if let Err(e) = ingest::open(&opened) {
                // "Not JSON after decrypting" must look like every other decryption failure.
                let json_ok = serde_json::from_slice::<serde_json::Value>(&opened.bytes).is_ok();
                assert_eq!(json_ok, !matches!(e, CoreError::Undecryptable), "{e}");
            }
        }
        Err(e) => assert!(matches!(e, CoreError::Undecryptable), "{e}"),
    }

    // Round trips: raw bytes, and a whole body in the suite's envelope.
    let raw = suite.encrypt_bytes(rest);
    assert_eq!(suite.decrypt_bytes(&raw).as_deref(), Ok(rest));
    let (sealed, _content_type) = suite.seal_body(rest);
    assert_eq!(suite.open_body(&sealed).as_deref(), Ok(rest));
});
