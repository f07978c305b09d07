//! Document checks: any JSON read into the payload model goes through `idcheck::document_flags`
//! (MRZ, MRZ against the other sources, dates, age) and the other checks without a panic.
#![no_main]

use kyc_domain::model::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = serde_json::from_slice::<Payload>(data) {
        kyc_desk_fuzz::run_checks(&payload);
    }
});
