//! Config parsing: `config::parse` on any text gives a config or an error naming the key, never a
//! panic; an accepted config validates again and survives being written and read back.
#![no_main]

use kyc_core::config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text) {
        Ok(c) => {
            assert!(c.validate().is_ok());
            let _ = c.warnings();
            // What `ditto-config --import` and the first start write must read back the same.
            let written = toml::to_string_pretty(&c).expect("a parsed config serialises");
            let again = config::parse(&written);
            assert!(again.is_ok(), "{written}\n{:?}", again.err());
            assert_eq!(again.ok().as_ref(), Some(&c), "{written}");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
