//! Payload parsing: `ingest::open` on any plaintext body gives a submission or an error naming a
//! field, never a panic; what it accepts reads back from its stored form and goes through the checks.
#![no_main]

use kyc_core::ingest::{self, OpenedBody};
use kyc_core::CoreError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ingest::open(&OpenedBody::plain(data.to_vec())) {
        Ok(sub) => {
            assert!(sub.custom.is_none());
            kyc_desk_fuzz::check_accepted(&sub);
        }
        // A plaintext body is never answered as a decryption failure.
        Err(e) => assert!(!matches!(e, CoreError::Undecryptable), "{e}"),
    }
});
