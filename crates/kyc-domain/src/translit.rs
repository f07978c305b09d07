//! Non-Latin names made comparable with the MRZ: Cyrillic and Greek by ICAO 9303 Part 3's
//! transliteration tables (and the national variants passports of Ukraine, Belarus, Bulgaria and
//! older Russian passports print), Arabic by its consonants, since its vowels are not written.
//! Pure functions; `view::same_value` is their one user.

/// One way of writing Cyrillic and Greek in Latin letters: digraphs first, then letter by letter.
struct Table {
    digraphs: &'static [(&'static str, &'static str)],
    /// Letters that differ from ICAO's (looked up before [`ICAO`]).
    letters: &'static [(char, &'static str)],
}

/// ICAO 9303 Part 3, section 6 (upper case; lower case is upper-cased first).
const ICAO: &[(char, &str)] = &[
    // Cyrillic
    ('А', "A"),
    ('Б', "B"),
    ('В', "V"),
    ('Г', "G"),
    ('Ґ', "G"),
    ('Д', "D"),
    ('Ѓ', "G"),
    ('Ђ', "D"),
    ('Е', "E"),
    ('Ё', "E"),
    ('Є', "IE"),
    ('Ж', "ZH"),
    ('З', "Z"),
    ('Ѕ', "DZ"),
    ('И', "I"),
    ('І', "I"),
    ('Ї', "I"),
    ('Й', "I"),
    ('Ј', "J"),
    ('К', "K"),
    ('Л', "L"),
    ('Љ', "LJ"),
    ('М', "M"),
    ('Н', "N"),
    ('Њ', "NJ"),
    ('О', "O"),
    ('П', "P"),
    ('Р', "R"),
    ('С', "S"),
    ('Т', "T"),
    ('Ћ', "C"),
    ('Ќ', "K"),
    ('У', "U"),
    ('Ў', "U"),
    ('Ф', "F"),
    ('Х', "KH"),
    ('Ц', "TS"),
    ('Ч', "CH"),
    ('Џ', "DZ"),
    ('Ш', "SH"),
    ('Щ', "SHCH"),
    ('Ъ', "IE"),
    ('Ы', "Y"),
    ('Ь', ""),
    ('Э', "E"),
    ('Ю', "IU"),
    ('Я', "IA"),
    // Greek (accents are dropped before the lookup)
    ('Α', "A"),
    ('Β', "V"),
    ('Γ', "G"),
    ('Δ', "D"),
    ('Ε', "E"),
    ('Ζ', "Z"),
    ('Η', "I"),
    ('Θ', "TH"),
    ('Ι', "I"),
    ('Κ', "K"),
    ('Λ', "L"),
    ('Μ', "M"),
    ('Ν', "N"),
    ('Ξ', "X"),
    ('Ο', "O"),
    ('Π', "P"),
    ('Ρ', "R"),
    ('Σ', "S"),
    ('Τ', "T"),
    ('Υ', "Y"),
    ('Φ', "F"),
    ('Χ', "CH"),
    ('Ψ', "PS"),
    ('Ω', "O"),
];

/// ICAO's table, then the national spellings passports print.
const TABLES: &[Table] = &[
    Table {
        digraphs: &[],
        letters: &[],
    },
    // Ukraine (2010 national system) and Belarus: Г is H, И is Y, iotated vowels with Y.
    Table {
        digraphs: &[],
        letters: &[
            ('Г', "H"),
            ('И', "Y"),
            ('Ї', "YI"),
            ('Є', "YE"),
            ('Ю', "YU"),
            ('Я', "YA"),
        ],
    },
    // Bulgaria (2009 law) and Russia before 2013: Щ is SHT (Bulgaria), Ъ is A, ЬО is YO,
    // iotated vowels with Y.
    Table {
        digraphs: &[("ЬО", "YO")],
        letters: &[
            ('Щ', "SHT"),
            ('Ъ', "A"),
            ('Й', "Y"),
            ('Ю', "YU"),
            ('Я', "YA"),
        ],
    },
    // Greece (ELOT 743 as printed in passports): the diphthongs.
    Table {
        digraphs: &[("ΟΥ", "OU"), ("ΑΥ", "AV"), ("ΕΥ", "EV"), ("ΜΠ", "B")],
        letters: &[],
    },
];

/// Greek (U+0370..) and Cyrillic (..U+04FF).
fn is_cyrillic_or_greek(c: char) -> bool {
    matches!(c as u32, 0x0370..=0x04FF)
}

fn is_arabic(c: char) -> bool {
    matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F)
}

/// Whether `s` has a letter of a script the tables cover.
pub fn has_transliterable(s: &str) -> bool {
    s.chars().any(|c| is_cyrillic_or_greek(c) || is_arabic(c))
}

/// Whether every letter of `s` is Latin or of a script this module can compare.
pub fn comparable(s: &str) -> bool {
    s.chars().all(|c| {
        let u = c as u32;
        !c.is_alphabetic()
            || u < 0x250
            || (0x1E00..=0x1EFF).contains(&u)
            || is_cyrillic_or_greek(c)
            || is_arabic(c)
    })
}

/// Upper case without accents (Greek tonos and dialytika too); Cyrillic letters stay whole (Й, Ї
/// and Ў are letters of their own, not accented И, І and У).
fn upper_bare(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    for c in s.nfc().flat_map(char::to_uppercase) {
        if matches!(c as u32, 0x0400..=0x04FF) {
            out.push(c);
        } else {
            out.extend(
                std::iter::once(c)
                    .nfd()
                    .filter(|c| !unicode_normalization::char::is_combining_mark(*c)),
            );
        }
    }
    out
}

/// Every Latin spelling of `s` the tables give (one per table; `s` itself when it has no
/// Cyrillic or Greek letter).
pub fn latin_spellings(s: &str) -> Vec<String> {
    if !s.chars().any(is_cyrillic_or_greek) {
        return vec![s.to_string()];
    }
    let bare = upper_bare(s);
    let mut out: Vec<String> = Vec::new();
    for table in TABLES {
        let mut text = bare.clone();
        for (from, to) in table.digraphs {
            text = text.replace(from, to);
        }
        let mut latin = String::with_capacity(text.len());
        for c in text.chars() {
            let mapped = table
                .letters
                .iter()
                .chain(ICAO)
                .find(|(from, _)| *from == c)
                .map(|(_, to)| *to);
            match mapped {
                Some(to) => latin.push_str(to),
                None => latin.push(c),
            }
        }
        if !out.contains(&latin) {
            out.push(latin);
        }
    }
    out
}

/// The consonants of a name, for Arabic, whose short vowels are not written: Arabic letters by
/// ICAO 9303's table with alif, hamza, ʿayn, waw, ya and ta marbuta dropped; Latin with vowels,
/// W, Y and H after a consonant letter pair's first letter kept; doubled letters once; Q as K.
/// "محمد" and "MOHAMMED" both give "MHMD".
pub fn consonants(s: &str) -> String {
    const ARABIC: &[(char, &str)] = &[
        ('ب', "B"),
        ('ت', "T"),
        ('ث', "TH"),
        ('ج', "J"),
        ('ح', "H"),
        ('خ', "KH"),
        ('د', "D"),
        ('ذ', "DH"),
        ('ر', "R"),
        ('ز', "Z"),
        ('س', "S"),
        ('ش', "SH"),
        ('ص', "S"),
        ('ض', "D"),
        ('ط', "T"),
        ('ظ', "Z"),
        ('غ', "GH"),
        ('ف', "F"),
        ('ق', "K"),
        ('ك', "K"),
        ('ل', "L"),
        ('م', "M"),
        ('ن', "N"),
        ('ه', "H"),
        ('پ', "P"),
        ('چ', "CH"),
        ('ژ', "ZH"),
        ('گ', "G"),
        ('ک', "K"),
    ];
    let mut latin = String::new();
    for c in upper_bare(s).chars() {
        if let Some((_, to)) = ARABIC.iter().find(|(from, _)| *from == c) {
            latin.push_str(to);
        } else if c.is_ascii_alphabetic() {
            latin.push(if c == 'Q' { 'K' } else { c });
        }
    }
    let mut out = String::new();
    for c in latin.chars() {
        if matches!(c, 'A' | 'E' | 'I' | 'O' | 'U' | 'Y' | 'W') || out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    // A final H is often the written ta marbuta or a Latin ending ("FATIMAH", "ABDULLAH").
    if out.len() > 1 && out.ends_with('H') && !latin.ends_with("SH") && !latin.ends_with("KH") {
        out.pop();
    }
    out
}

/// Whether `s` has an Arabic letter.
pub fn has_arabic(s: &str) -> bool {
    s.chars().any(is_arabic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_and_greek_by_icao_and_national_tables() {
        let cases: &[(&str, &str)] = &[
            ("ЭРИКССОН", "ERIKSSON"),
            ("Иванов", "IVANOV"),
            ("Щербаков", "SHCHERBAKOV"),
            ("Юлия", "IULIIA"),
            ("Юлия", "YULIYA"),
            ("Григорій", "HRYHORII"),
            ("Шевченко", "SHEVCHENKO"),
            ("Жельо Щерев", "ZHELYO SHTEREV"),
            ("Пётр", "PETR"),
            ("Јовановић", "JOVANOVIC"),
            ("ΠΑΠΑΔΟΠΟΥΛΟΣ", "PAPADOPOULOS"),
            ("Γεώργιος", "GEORGIOS"),
            ("Χρήστος", "CHRISTOS"),
            ("Ευάγγελος", "EVAGGELOS"),
        ];
        for (sent, mrz) in cases {
            let spellings = latin_spellings(sent);
            assert!(
                spellings
                    .iter()
                    .any(|s| s.replace(' ', "") == mrz.replace(' ', "")),
                "{sent} → {spellings:?}, expected {mrz}"
            );
        }
        assert_eq!(latin_spellings("Bērziņa"), ["Bērziņa"]);
        assert!(!latin_spellings("Иванов").contains(&"PETROV".to_string()));
    }

    #[test]
    fn arabic_by_its_consonants() {
        for (sent, mrz) in [
            ("محمد", "MOHAMMED"),
            ("محمد", "MUHAMMAD"),
            ("أحمد", "AHMED"),
            ("علي", "ALI"),
            ("فاطمة", "FATIMA"),
            ("عبدالله", "ABDULLAH"),
            ("خالد", "KHALED"),
            ("قاسم", "KASIM"),
        ] {
            assert_eq!(consonants(sent), consonants(mrz), "{sent} / {mrz}");
        }
        assert_ne!(consonants("محمد"), consonants("AHMED"));
        assert_ne!(consonants("خالد"), consonants("HAMID"));
    }

    #[test]
    fn which_scripts_compare() {
        assert!(comparable("Иванов") && comparable("محمد") && comparable("Müller"));
        assert!(!comparable("山田") && !comparable("כהן"));
        assert!(has_transliterable("Ωmega") && !has_transliterable("Omega"));
        assert!(has_arabic("علي") && !has_arabic("ALI"));
    }
}
