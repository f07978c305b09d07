//! MRZ parsing: `mrz::parse` on any text (invalid UTF-8 read lossily) gives an MRZ or an error
//! naming positions only, never a panic; dates and check digits of what it parses are computed too.
#![no_main]

use kyc_domain::mrz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let digit = mrz::check_digit(&text);
    assert!(digit.is_ascii_digit());
    match mrz::parse(&text) {
        Ok(m) => {
            assert!(!m.checks.is_empty());
            let _ = (m.is_valid(), m.failed_checks().count());
            for day in kyc_desk_fuzz::received_dates() {
                if let Some(b) = m.birth_date_on(day) {
                    assert!(b <= day, "a birth date after the day of receipt");
                }
                let _ = m.expiry_date_on(day);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'));
        }
    }
});
