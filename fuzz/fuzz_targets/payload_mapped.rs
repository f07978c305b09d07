//! Custom-body parsing: `ingest::open_mapped` with a small `[receiver.mapping]` (nested, indexed and
//! overlapping pointers, an image) on any body: a submission or an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use kyc_core::ingest::{self, OpenedBody};
use kyc_core::CoreError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static MAPPING: OnceLock<std::collections::BTreeMap<String, String>> = OnceLock::new();
    let mapping = MAPPING.get_or_init(kyc_desk_fuzz::mapping);
    match ingest::open_mapped(&OpenedBody::plain(data.to_vec()), mapping) {
        Ok(sub) => {
            let custom = sub
                .custom
                .as_ref()
                .expect("a mapped body says what it carried");
            assert!(custom.carried.contains(&"user_id".to_string()));
            kyc_desk_fuzz::check_accepted(&sub);
        }
        Err(e) => assert!(!matches!(e, CoreError::Undecryptable), "{e}"),
    }
});
