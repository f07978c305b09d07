//! Text as sources are compared: folding case, accents and ICAO spellings, and whether two
//! sources' values say the same thing.

use crate::translit;

/// Upper-case letters and digits only, accents dropped (`Bērziņa` → `BERZINA`), or with ICAO 9303
/// transliteration first (`Müller` → `MUELLER`) when `icao` is set.
pub fn fold(v: &str, icao: bool) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut pre = String::with_capacity(v.len());
    for c in v.chars().flat_map(char::to_uppercase) {
        match c {
            'Ä' | 'Æ' if icao => pre.push_str("AE"),
            'Ö' | 'Ø' | 'Œ' if icao => pre.push_str("OE"),
            'Ü' if icao => pre.push_str("UE"),
            'Å' if icao => pre.push_str("AA"),
            'Æ' => pre.push_str("AE"),
            'Œ' => pre.push_str("OE"),
            'Ø' => pre.push('O'),
            'ß' | 'ẞ' => pre.push_str("SS"),
            'Þ' => pre.push_str("TH"),
            'Ł' => pre.push('L'),
            'Đ' | 'Ð' => pre.push('D'),
            other => pre.push(other),
        }
    }
    pre.nfd()
        .filter(|c| c.is_ascii_alphanumeric() || (c.is_alphanumeric() && !c.is_ascii()))
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

/// A value as compared across sources: upper case, letters and digits only, accents dropped.
pub fn comparison_key(v: &str) -> String {
    fold(v, false)
}

/// Whether two sources' values say the same thing (case, accents, fillers and ICAO spelling aside;
/// Cyrillic and Greek through ICAO 9303 transliteration, Arabic by its consonants).
pub fn same_value(a: &str, b: &str) -> bool {
    if translit::has_arabic(a) || translit::has_arabic(b) {
        return translit::consonants(a) == translit::consonants(b);
    }
    let (a, b) = (translit::latin_spellings(a), translit::latin_spellings(b));
    [false, true].iter().any(|&icao| {
        a.iter()
            .any(|x| b.iter().any(|y| fold(x, icao) == fold(y, icao)))
    })
}

#[cfg(test)]
mod tests {
    use super::same_value;

    #[test]
    fn names_compare_across_sources() {
        assert!(same_value("Bērziņa", "BERZINA"));
        assert!(same_value("BĒRZIŅA", "BERZINA"));
        assert!(same_value("Müller", "MUELLER"));
        assert!(same_value("Müller", "MULLER"));
        assert!(same_value("Weiß", "WEISS"));
        assert!(same_value("ANNA<MARIA", "Anna Maria"));
        assert!(same_value("12.03.1985", "12.03.1985"));
        assert!(!same_value("OZOLA", "OZOLINA"));
        assert!(!same_value("12.03.1985", "12.03.1986"));
        assert!(same_value("ЭРИКССОН", "ERIKSSON"));
        assert!(same_value("Шевченко", "SHEVCHENKO"));
        assert!(same_value("ΠΑΠΑΔΟΠΟΥΛΟΣ", "PAPADOPOULOS"));
        assert!(same_value("محمد", "MOHAMMED"));
        assert!(!same_value("ЭРИКССОН", "ERIKSEN"));
        assert!(!same_value("محمد", "AHMED"));
    }
}
