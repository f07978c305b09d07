//! The built-in synthetic people and their countries: names, documents, number formats, looks.

use crate::date::Date;
use crate::draw::Color;
use crate::face::{HairStyle, Look};
use crate::rng::{mix64, Rng};

/// How a country forms the personal (national identification) number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PersonalCode {
    None,
    /// Latvia: DDMMYY-CNNNN (C = century digit).
    Latvia,
    /// Estonia / Lithuania: GYYMMDDSSSC with the Estonian check digit.
    Baltic,
    /// Poland: PESEL.
    Pesel,
    /// Spain: DNI number with its check letter.
    Dni,
    /// Finland: DDMMYY-NNNC.
    Finland,
}

/// A document-issuing country and the look of its documents.
#[derive(Debug)]
pub(crate) struct Country {
    /// Code in the MRZ and in "Issuing state code" ("LVA", "D" for Germany).
    pub code: &'static str,
    pub name: &'static str,
    pub heading: &'static str,
    pub id_title: Option<&'static str>,
    pub passport_title: &'static str,
    pub id_doc_name: Option<&'static str>,
    pub passport_doc_name: &'static str,
    /// Two-character TD1 document code.
    pub id_mrz_code: &'static str,
    /// Windows LCID and language of the national locale.
    pub lcid: u32,
    pub language: &'static str,
    pub authority: &'static str,
    /// Mobile number prefix and count of random digits that follow.
    pub phone: (&'static str, u32),
    /// Number patterns: `@` letter, `9` digit, `X` letter or digit, anything else literal.
    pub id_number: &'static str,
    pub passport_number: &'static str,
    pub personal: PersonalCode,
    /// Pale document background, guilloche ink, header band.
    pub paper: Color,
    pub ink: Color,
    pub band: Color,
}

const LV: usize = 0;
const DE: usize = 1;
const PL: usize = 2;
const FR: usize = 3;
const ES: usize = 4;
const IT: usize = 5;
const LT: usize = 6;
const EE: usize = 7;
const DK: usize = 8;
const CZ: usize = 9;
const FI: usize = 10;

pub(crate) static COUNTRIES: [Country; 11] = [
    Country {
        code: "LVA",
        name: "Latvia",
        heading: "LATVIJAS REPUBLIKA",
        id_title: Some("PERSONAS APLIECĪBA"),
        passport_title: "PASE",
        id_doc_name: Some("Latvia - ID Card (2012)"),
        passport_doc_name: "Latvia - ePassport (2015)",
        id_mrz_code: "I<",
        lcid: 1062,
        language: "Latvian",
        authority: "PMLP",
        phone: ("+3712", 7),
        id_number: "PA9999999",
        passport_number: "LV9999999",
        personal: PersonalCode::Latvia,
        paper: [246, 232, 232],
        ink: [170, 90, 100],
        band: [158, 48, 57],
    },
    Country {
        code: "D",
        name: "Germany",
        heading: "BUNDESREPUBLIK DEUTSCHLAND",
        id_title: Some("PERSONALAUSWEIS"),
        passport_title: "REISEPASS",
        id_doc_name: Some("Germany - ID Card (2021)"),
        passport_doc_name: "Germany - ePassport (2017)",
        id_mrz_code: "ID",
        lcid: 1031,
        language: "German",
        authority: "STADT KÖLN",
        phone: ("+49151", 8),
        id_number: "LXXXXXXXX",
        passport_number: "CXXXXXXXX",
        personal: PersonalCode::None,
        paper: [232, 240, 230],
        ink: [90, 140, 110],
        band: [60, 64, 70],
    },
    Country {
        code: "POL",
        name: "Poland",
        heading: "RZECZPOSPOLITA POLSKA",
        id_title: Some("DOWÓD OSOBISTY"),
        passport_title: "PASZPORT",
        id_doc_name: Some("Poland - ID Card (2019)"),
        passport_doc_name: "Poland - ePassport (2018)",
        id_mrz_code: "ID",
        lcid: 1045,
        language: "Polish",
        authority: "PREZYDENT M. ST. WARSZAWY",
        phone: ("+486", 8),
        id_number: "@@@999999",
        passport_number: "E@9999999",
        personal: PersonalCode::Pesel,
        paper: [247, 236, 238],
        ink: [190, 110, 130],
        band: [200, 16, 46],
    },
    Country {
        code: "FRA",
        name: "France",
        heading: "RÉPUBLIQUE FRANÇAISE",
        id_title: Some("CARTE NATIONALE D'IDENTITÉ"),
        passport_title: "PASSEPORT",
        id_doc_name: Some("France - ID Card (2021)"),
        passport_doc_name: "France - ePassport (2006)",
        id_mrz_code: "ID",
        lcid: 1036,
        language: "French",
        authority: "PRÉFECTURE DE PARIS",
        phone: ("+336", 8),
        id_number: "XXXXXXXXX",
        passport_number: "99@@99999",
        personal: PersonalCode::None,
        paper: [232, 238, 248],
        ink: [100, 120, 190],
        band: [0, 35, 149],
    },
    Country {
        code: "ESP",
        name: "Spain",
        heading: "REINO DE ESPAÑA",
        id_title: Some("DOCUMENTO NACIONAL DE IDENTIDAD"),
        passport_title: "PASAPORTE",
        id_doc_name: Some("Spain - ID Card (2015)"),
        passport_doc_name: "Spain - ePassport (2015)",
        id_mrz_code: "ID",
        lcid: 3082,
        language: "Spanish",
        authority: "DGP MADRID",
        phone: ("+346", 8),
        id_number: "@@@999999",
        passport_number: "PA@999999",
        personal: PersonalCode::Dni,
        paper: [238, 236, 248],
        ink: [130, 110, 180],
        band: [120, 40, 60],
    },
    Country {
        code: "ITA",
        name: "Italy",
        heading: "REPUBBLICA ITALIANA",
        id_title: Some("CARTA DI IDENTITÀ"),
        passport_title: "PASSAPORTO",
        id_doc_name: Some("Italy - ID Card (2016)"),
        passport_doc_name: "Italy - ePassport (2010)",
        id_mrz_code: "CI",
        lcid: 1040,
        language: "Italian",
        authority: "COMUNE DI ROMA",
        phone: ("+393", 9),
        id_number: "CA99999@@",
        passport_number: "YA9999999",
        personal: PersonalCode::None,
        paper: [236, 244, 236],
        ink: [110, 160, 120],
        band: [0, 120, 70],
    },
    Country {
        code: "LTU",
        name: "Lithuania",
        heading: "LIETUVOS RESPUBLIKA",
        id_title: Some("ASMENS TAPATYBĖS KORTELĖ"),
        passport_title: "PASAS",
        id_doc_name: Some("Lithuania - ID Card (2021)"),
        passport_doc_name: "Lithuania - ePassport (2011)",
        id_mrz_code: "ID",
        lcid: 1063,
        language: "Lithuanian",
        authority: "MIGRACIJOS DEPARTAMENTAS",
        phone: ("+3706", 7),
        id_number: "99999999",
        passport_number: "99999999",
        personal: PersonalCode::Baltic,
        paper: [246, 242, 226],
        ink: [170, 150, 80],
        band: [0, 106, 68],
    },
    Country {
        code: "EST",
        name: "Estonia",
        heading: "EESTI VABARIIK",
        id_title: Some("ISIKUTUNNISTUS"),
        passport_title: "PASS",
        id_doc_name: Some("Estonia - ID Card (2021)"),
        passport_doc_name: "Estonia - ePassport (2021)",
        id_mrz_code: "ID",
        lcid: 1061,
        language: "Estonian",
        authority: "PPA",
        phone: ("+3725", 7),
        id_number: "AS9999999",
        passport_number: "K9999999",
        personal: PersonalCode::Baltic,
        paper: [232, 240, 248],
        ink: [90, 130, 180],
        band: [0, 114, 206],
    },
    Country {
        code: "DNK",
        name: "Denmark",
        heading: "KONGERIGET DANMARK",
        id_title: None,
        passport_title: "PAS",
        id_doc_name: None,
        passport_doc_name: "Denmark - ePassport (2021)",
        id_mrz_code: "ID",
        lcid: 1030,
        language: "Danish",
        authority: "KØBENHAVNS KOMMUNE",
        phone: ("+452", 7),
        id_number: "999999999",
        passport_number: "999999999",
        personal: PersonalCode::None,
        paper: [248, 236, 236],
        ink: [190, 100, 100],
        band: [198, 12, 48],
    },
    Country {
        code: "CZE",
        name: "Czech Republic",
        heading: "ČESKÁ REPUBLIKA",
        id_title: Some("OBČANSKÝ PRŮKAZ"),
        passport_title: "CESTOVNÍ PAS",
        id_doc_name: Some("Czech Republic - ID Card (2012)"),
        passport_doc_name: "Czech Republic - ePassport (2018)",
        id_mrz_code: "ID",
        lcid: 1029,
        language: "Czech",
        authority: "MAGISTRÁT HL. M. PRAHY",
        phone: ("+4206", 8),
        id_number: "999999999",
        passport_number: "99999999",
        personal: PersonalCode::None,
        paper: [236, 240, 246],
        ink: [120, 130, 170],
        band: [17, 69, 126],
    },
    Country {
        code: "FIN",
        name: "Finland",
        heading: "SUOMI FINLAND",
        id_title: Some("HENKILÖKORTTI"),
        passport_title: "PASSI",
        id_doc_name: Some("Finland - ID Card (2017)"),
        passport_doc_name: "Finland - ePassport (2017)",
        id_mrz_code: "I<",
        lcid: 1035,
        language: "Finnish",
        authority: "POLIISI",
        phone: ("+35840", 7),
        id_number: "999999999",
        passport_number: "FP9999999",
        personal: PersonalCode::Finland,
        paper: [236, 242, 250],
        ink: [110, 140, 190],
        band: [0, 47, 108],
    },
];

/// Skin tones, light to dark.
const SKIN: [Color; 6] = [
    [247, 224, 206],
    [236, 200, 173],
    [222, 180, 145],
    [198, 150, 110],
    [160, 110, 75],
    [110, 72, 48],
];

#[derive(Clone, Copy, Debug)]
pub(crate) enum Hair {
    Blonde,
    Platinum,
    LightBrown,
    DarkBrown,
    Black,
    Auburn,
    Ginger,
}

impl Hair {
    fn color(self) -> Color {
        match self {
            Hair::Blonde => [214, 182, 112],
            Hair::Platinum => [232, 222, 190],
            Hair::LightBrown => [150, 110, 72],
            Hair::DarkBrown => [78, 50, 32],
            Hair::Black => [28, 24, 24],
            Hair::Auburn => [140, 62, 36],
            Hair::Ginger => [196, 98, 44],
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Eyes {
    Blue,
    GreyBlue,
    Green,
    Hazel,
    Brown,
    Dark,
}

impl Eyes {
    fn color(self) -> Color {
        match self {
            Eyes::Blue => [70, 120, 185],
            Eyes::GreyBlue => [110, 135, 160],
            Eyes::Green => [80, 130, 80],
            Eyes::Hazel => [130, 100, 50],
            Eyes::Brown => [92, 56, 30],
            Eyes::Dark => [48, 30, 20],
        }
    }
}

/// One synthetic person.
#[derive(Debug)]
pub(crate) struct Person {
    pub given_names: &'static str,
    pub surname: &'static str,
    pub sex: char,
    country: usize,
    skin: usize,
    hair: Hair,
    style: HairStyle,
    eyes: Eyes,
    beard: bool,
    glasses: bool,
}

macro_rules! person {
    ($given:expr, $surname:expr, $sex:expr, $country:expr, $skin:expr, $hair:ident, $style:ident, $eyes:ident, $beard:expr, $glasses:expr) => {
        Person {
            given_names: $given,
            surname: $surname,
            sex: $sex,
            country: $country,
            skin: $skin,
            hair: Hair::$hair,
            style: HairStyle::$style,
            eyes: Eyes::$eyes,
            beard: $beard,
            glasses: $glasses,
        }
    };
}

pub(crate) static PEOPLE: [Person; 16] = [
    person!(
        "Anna",
        "Bērziņa",
        'F',
        LV,
        0,
        Blonde,
        Long,
        Blue,
        false,
        false
    ),
    person!(
        "Jānis",
        "Ozoliņš",
        'M',
        LV,
        1,
        LightBrown,
        Short,
        GreyBlue,
        true,
        false
    ),
    person!("Lukas", "Müller", 'M', DE, 1, DarkBrown, Short, Brown, false, true),
    person!("Sophie", "Weiß", 'F', DE, 0, Auburn, Bob, Green, false, false),
    person!(
        "Zofia",
        "Wiśniewska",
        'F',
        PL,
        1,
        LightBrown,
        Bun,
        Blue,
        false,
        false
    ),
    person!(
        "Paweł",
        "Kowalczyk",
        'M',
        PL,
        2,
        Black,
        Receding,
        Brown,
        true,
        false
    ),
    person!("Élodie", "Lefèvre", 'F', FR, 2, DarkBrown, Long, Brown, false, false),
    person!(
        "François",
        "Dubois",
        'M',
        FR,
        5,
        Black,
        Short,
        Dark,
        false,
        true
    ),
    person!(
        "José María",
        "García López",
        'M',
        ES,
        3,
        Black,
        Curly,
        Dark,
        true,
        false
    ),
    person!(
        "Lucía",
        "Fernández Ruiz",
        'F',
        ES,
        3,
        Black,
        Long,
        Brown,
        false,
        false
    ),
    person!("Giulia", "Bianchi", 'F', IT, 2, DarkBrown, Curly, Hazel, false, false),
    person!(
        "Eglė",
        "Kazlauskienė",
        'F',
        LT,
        0,
        Ginger,
        Long,
        Green,
        false,
        false
    ),
    person!("Kristjan", "Tamm", 'M', EE, 0, Blonde, Short, Blue, false, false),
    person!(
        "Søren",
        "Østergaard",
        'M',
        DK,
        1,
        LightBrown,
        Short,
        Blue,
        true,
        true
    ),
    person!(
        "Tereza",
        "Dvořáková",
        'F',
        CZ,
        1,
        Black,
        Bob,
        Brown,
        false,
        true
    ),
    person!("Aino", "Mäkinen", 'F', FI, 0, Platinum, Bun, GreyBlue, false, false),
];

/// Clothing colours.
pub(crate) const CLOTHES: [Color; 8] = [
    [40, 56, 90],
    [90, 30, 40],
    [50, 50, 55],
    [30, 80, 70],
    [120, 120, 130],
    [200, 200, 205],
    [70, 40, 90],
    [150, 90, 40],
];

impl Person {
    pub(crate) fn country(&self) -> &'static Country {
        &COUNTRIES[self.country]
    }

    pub(crate) fn has_id_card(&self) -> bool {
        self.country().id_doc_name.is_some()
    }

    /// The stylised face of this person: fixed features from the table, proportions
    /// derived from the name so that every person is recognisably different.
    pub(crate) fn look(&self) -> Look {
        let h = self
            .surname
            .bytes()
            .chain(self.given_names.bytes())
            .fold(0u64, |a, b| mix64(a ^ u64::from(b)));
        let mut r = Rng::new(h);
        Look {
            skin: SKIN[self.skin],
            hair: self.hair.color(),
            eyes: self.eyes.color(),
            style: self.style,
            beard: self.beard,
            glasses: self.glasses,
            face_w: r.range_f32(0.9, 1.08),
            face_h: r.range_f32(0.94, 1.08),
            eye_gap: r.range_f32(0.88, 1.12),
            nose: r.range_f32(0.85, 1.15),
            mouth: r.range_f32(0.85, 1.2),
            brow: if self.sex == 'M' {
                r.range_f32(1.05, 1.4)
            } else {
                r.range_f32(0.75, 1.0)
            },
            clothes: *r.pick(&CLOTHES),
        }
    }

    /// A plausible login id: an e-mail address, or a mobile number in international format.
    pub(crate) fn user_id(&self, r: &mut Rng) -> String {
        if r.chance(0.25) {
            let (prefix, digits) = self.country().phone;
            let mut s = prefix.to_string();
            for _ in 0..digits {
                s.push(char::from(b'0' + r.below(10) as u8));
            }
            s
        } else {
            let given = crate::text::ascii_lower(self.given_names.split(' ').next().unwrap_or(""));
            let surname = crate::text::ascii_lower(self.surname.split(' ').next().unwrap_or(""));
            format!("{given}.{surname}@example.com")
        }
    }
}

/// A document number from a pattern (`@` letter, `9` digit, `X` either, else literal).
pub(crate) fn document_number(pattern: &str, r: &mut Rng) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    const ALNUM: &[u8] = b"CFGHJKLMNPRTVWXYZ0123456789";
    pattern
        .chars()
        .map(|c| match c {
            '@' => char::from(*r.pick(LETTERS)),
            '9' => char::from(b'0' + r.below(10) as u8),
            'X' => char::from(*r.pick(ALNUM)),
            other => other,
        })
        .collect()
}

fn digits(r: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect()
}

fn estonian_check(code10: &str) -> u32 {
    let d: Vec<u32> = code10.bytes().map(|b| u32::from(b - b'0')).collect();
    let w1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1];
    let w2 = [3, 4, 5, 6, 7, 8, 9, 1, 2, 3];
    let s1: u32 = d.iter().zip(w1).map(|(a, b)| a * b).sum::<u32>() % 11;
    if s1 < 10 {
        return s1;
    }
    let s2: u32 = d.iter().zip(w2).map(|(a, b)| a * b).sum::<u32>() % 11;
    if s2 < 10 {
        s2
    } else {
        0
    }
}

/// The personal number as printed (`display`) and as it goes into the MRZ optional data.
pub(crate) fn personal_number(
    kind: PersonalCode,
    birth: Date,
    sex: char,
    r: &mut Rng,
) -> Option<String> {
    let yy = birth.y.rem_euclid(100);
    let male = sex == 'M';
    Some(match kind {
        PersonalCode::None => return None,
        PersonalCode::Latvia => {
            let century = if birth.y >= 2000 { 2 } else { 1 };
            format!(
                "{:02}{:02}{:02}-{century}{}",
                birth.d,
                birth.m,
                yy,
                digits(r, 4)
            )
        }
        PersonalCode::Baltic => {
            let g = match (birth.y >= 2000, male) {
                (false, true) => 3,
                (false, false) => 4,
                (true, true) => 5,
                (true, false) => 6,
            };
            let body = format!("{g}{:02}{:02}{:02}{}", yy, birth.m, birth.d, digits(r, 3));
            let c = estonian_check(&body);
            format!("{body}{c}")
        }
        PersonalCode::Pesel => {
            let month = birth.m + if birth.y >= 2000 { 20 } else { 0 };
            let serial = digits(r, 3);
            let sex_digit = 2 * r.below(5) + u64::from(male);
            let body = format!("{:02}{:02}{:02}{serial}{sex_digit}", yy, month, birth.d);
            let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
            let s: u32 = body
                .bytes()
                .zip(w)
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            format!("{body}{}", (10 - s % 10) % 10)
        }
        PersonalCode::Dni => {
            const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
            let n = 10_000_000 + r.below(89_999_999);
            format!("{n:08}{}", char::from(LETTERS[(n % 23) as usize]))
        }
        PersonalCode::Finland => {
            const CHECK: &[u8] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
            let sign = if birth.y >= 2000 { 'A' } else { '-' };
            let serial = 2 + 2 * r.below(440) + u64::from(male);
            let n: u64 = format!("{:02}{:02}{:02}{serial:03}", birth.d, birth.m, yy)
                .parse()
                .unwrap_or(0);
            format!(
                "{:02}{:02}{:02}{sign}{serial:03}{}",
                birth.d,
                birth.m,
                yy,
                char::from(CHECK[(n % 31) as usize])
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        assert!(PEOPLE.len() >= 16);
        for p in &PEOPLE {
            let c = p.country();
            for pat in [c.id_number, c.passport_number] {
                assert!(pat.len() <= 9, "{pat}");
            }
            assert!(c.code.len() <= 3);
            assert_eq!(c.id_mrz_code.len(), 2);
            assert!(p.sex == 'M' || p.sex == 'F');
            // Every printed string can be drawn with the built-in font.
            for s in [
                p.surname,
                p.given_names,
                c.heading,
                c.passport_title,
                c.authority,
            ]
            .into_iter()
            .chain(c.id_title)
            {
                for ch in s.chars() {
                    assert!(crate::font::glyph(ch).is_some(), "{ch:?} in {s}");
                }
            }
        }
    }

    #[test]
    fn document_numbers_follow_patterns() {
        let mut r = Rng::new(9);
        for _ in 0..50 {
            let n = document_number("PA9999999", &mut r);
            assert!(
                n.starts_with("PA") && n[2..].bytes().all(|b| b.is_ascii_digit()),
                "{n}"
            );
            let n = document_number("@@@999999", &mut r);
            assert!(n[..3].bytes().all(|b| b.is_ascii_uppercase()), "{n}");
            let n = document_number("XXXXXXXXX", &mut r);
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                "{n}"
            );
        }
    }

    #[test]
    fn personal_numbers() {
        let mut r = Rng::new(3);
        let b = Date::new(1985, 3, 12);
        let lv = personal_number(PersonalCode::Latvia, b, 'F', &mut r).unwrap();
        assert!(lv.starts_with("120385-1"), "{lv}");
        let ee = personal_number(PersonalCode::Baltic, b, 'M', &mut r).unwrap();
        assert!(ee.starts_with("3850312") && ee.len() == 11, "{ee}");
        // Known valid Estonian code.
        assert_eq!(estonian_check("3760503029"), 9);
        let pesel = personal_number(PersonalCode::Pesel, b, 'M', &mut r).unwrap();
        assert_eq!(pesel.len(), 11);
        assert_eq!((pesel.as_bytes()[9] - b'0') % 2, 1);
        let dni = personal_number(PersonalCode::Dni, b, 'M', &mut r).unwrap();
        assert_eq!(dni.len(), 9);
        let fi = personal_number(PersonalCode::Finland, b, 'F', &mut r).unwrap();
        assert!(fi.starts_with("120385-"), "{fi}");
        assert!(personal_number(PersonalCode::None, b, 'F', &mut r).is_none());
    }
}
