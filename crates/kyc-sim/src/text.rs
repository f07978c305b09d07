//! Latin letters with diacritics: decomposition (for the bitmap font) and ICAO 9303 transliteration.

/// A diacritic mark drawn with a base letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Acute,
    Grave,
    Circumflex,
    Caron,
    Macron,
    Umlaut,
    Ring,
    Dot,
    Tilde,
    Breve,
    DoubleAcute,
    /// Below the letter (also used for the Latvian comma below).
    Cedilla,
    /// Below, to the right.
    Ogonek,
}

use Mark::*;

/// Upper-case letters with one mark: (letter, base, mark).
const TABLE: &[(char, char, Mark)] = &[
    ('À', 'A', Grave),
    ('Á', 'A', Acute),
    ('Â', 'A', Circumflex),
    ('Ã', 'A', Tilde),
    ('Ä', 'A', Umlaut),
    ('Å', 'A', Ring),
    ('Ā', 'A', Macron),
    ('Ă', 'A', Breve),
    ('Ą', 'A', Ogonek),
    ('Ç', 'C', Cedilla),
    ('Ć', 'C', Acute),
    ('Č', 'C', Caron),
    ('Ċ', 'C', Dot),
    ('Ď', 'D', Caron),
    ('È', 'E', Grave),
    ('É', 'E', Acute),
    ('Ê', 'E', Circumflex),
    ('Ë', 'E', Umlaut),
    ('Ē', 'E', Macron),
    ('Ė', 'E', Dot),
    ('Ę', 'E', Ogonek),
    ('Ě', 'E', Caron),
    ('Ģ', 'G', Cedilla),
    ('Ğ', 'G', Breve),
    ('Ì', 'I', Grave),
    ('Í', 'I', Acute),
    ('Î', 'I', Circumflex),
    ('Ï', 'I', Umlaut),
    ('Ī', 'I', Macron),
    ('Į', 'I', Ogonek),
    ('İ', 'I', Dot),
    ('Ķ', 'K', Cedilla),
    ('Ļ', 'L', Cedilla),
    ('Ĺ', 'L', Acute),
    ('Ľ', 'L', Caron),
    ('Ñ', 'N', Tilde),
    ('Ń', 'N', Acute),
    ('Ň', 'N', Caron),
    ('Ņ', 'N', Cedilla),
    ('Ò', 'O', Grave),
    ('Ó', 'O', Acute),
    ('Ô', 'O', Circumflex),
    ('Õ', 'O', Tilde),
    ('Ö', 'O', Umlaut),
    ('Ő', 'O', DoubleAcute),
    ('Ŕ', 'R', Acute),
    ('Ř', 'R', Caron),
    ('Ś', 'S', Acute),
    ('Š', 'S', Caron),
    ('Ş', 'S', Cedilla),
    ('Ť', 'T', Caron),
    ('Ţ', 'T', Cedilla),
    ('Ù', 'U', Grave),
    ('Ú', 'U', Acute),
    ('Û', 'U', Circumflex),
    ('Ü', 'U', Umlaut),
    ('Ū', 'U', Macron),
    ('Ů', 'U', Ring),
    ('Ű', 'U', DoubleAcute),
    ('Ų', 'U', Ogonek),
    ('Ý', 'Y', Acute),
    ('Ÿ', 'Y', Umlaut),
    ('Ź', 'Z', Acute),
    ('Ž', 'Z', Caron),
    ('Ż', 'Z', Dot),
];

/// Splits an upper-case accented letter into its base letter and mark.
pub(crate) fn decompose(c: char) -> Option<(char, Mark)> {
    TABLE
        .iter()
        .find(|(l, _, _)| *l == c)
        .map(|&(_, base, mark)| (base, mark))
}

/// ICAO 9303 (Part 3) transliteration of one upper-case character to MRZ letters,
/// appended to `out`. Apostrophes, dots and other punctuation are dropped;
/// spaces and hyphens become the filler `<`.
fn icao_char(c: char, out: &mut String) {
    match c {
        'A'..='Z' | '0'..='9' | '<' => out.push(c),
        ' ' | '-' => out.push('<'),
        'Ä' | 'Æ' => out.push_str("AE"),
        'Ö' | 'Ø' | 'Œ' => out.push_str("OE"),
        'Ü' => out.push_str("UE"),
        'Å' => out.push_str("AA"),
        'ß' | 'ẞ' => out.push_str("SS"),
        'Þ' => out.push_str("TH"),
        'Ĳ' => out.push_str("IJ"),
        'Ł' => out.push('L'),
        'Đ' | 'Ð' => out.push('D'),
        _ => {
            if let Some((base, _)) = decompose(c) {
                out.push(base);
            }
        }
    }
}

/// Upper-case ICAO transliteration: "Bērziņa" → "BERZINA", "Müller" → "MUELLER",
/// "García López" → "GARCIA<LOPEZ".
pub(crate) fn icao(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_uppercase) {
        // 'ß'.to_uppercase() is "SS" already; keep the match for 'ẞ'.
        icao_char(c, &mut out);
    }
    out
}

/// Lower-case ASCII form for e-mail addresses: "Bērziņa" → "berzina".
pub(crate) fn ascii_lower(s: &str) -> String {
    icao(s).replace('<', ".").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transliterates() {
        assert_eq!(icao("Bērziņa"), "BERZINA");
        assert_eq!(icao("Ozoliņš"), "OZOLINS");
        assert_eq!(icao("Müller"), "MUELLER");
        assert_eq!(icao("Weiß"), "WEISS");
        assert_eq!(icao("García López"), "GARCIA<LOPEZ");
        assert_eq!(icao("Søren"), "SOEREN");
        assert_eq!(icao("Paweł"), "PAWEL");
        assert_eq!(icao("Dvořáková"), "DVORAKOVA");
        assert_eq!(icao("D'Artagnan"), "DARTAGNAN");
        assert_eq!(ascii_lower("Bērziņa"), "berzina");
        assert_eq!(decompose('Ņ'), Some(('N', Mark::Cedilla)));
    }
}
