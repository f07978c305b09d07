//! How the desk names what Ditto ID sends as codes: a field's source (MRZ, visual zone, barcode,
//! chip), a locale (Windows LCIDs, as its document reader uses them), and a field in a locale.

use crate::model::Document;

/// Human name of a field source code.
pub fn source_name(code: &str) -> String {
    match code {
        "M" => "MRZ".into(),
        "V" => "Visual".into(),
        "B" => "Barcode".into(),
        "R" => "Chip".into(),
        other => other.to_string(),
    }
}

/// Names of the Windows locale ids (LCIDs) Ditto ID's document reader uses in `field_locales` and
/// `identity_data_details`, for when the payload does not name them itself.
const LOCALES: &[(&str, &str)] = &[
    ("0", "Latin"),
    ("1025", "Arabic"),
    ("1026", "Bulgarian"),
    ("1027", "Catalan"),
    ("1028", "Chinese (Taiwan)"),
    ("1029", "Czech"),
    ("1030", "Danish"),
    ("1031", "German"),
    ("1032", "Greek"),
    ("1033", "English (United States)"),
    ("1034", "Spanish"),
    ("1035", "Finnish"),
    ("1036", "French"),
    ("1037", "Hebrew"),
    ("1038", "Hungarian"),
    ("1039", "Icelandic"),
    ("1040", "Italian"),
    ("1041", "Japanese"),
    ("1042", "Korean"),
    ("1043", "Dutch"),
    ("1044", "Norwegian"),
    ("1045", "Polish"),
    ("1046", "Portuguese (Brazil)"),
    ("1048", "Romanian"),
    ("1049", "Russian"),
    ("1050", "Croatian"),
    ("1051", "Slovak"),
    ("1052", "Albanian"),
    ("1053", "Swedish"),
    ("1054", "Thai"),
    ("1055", "Turkish"),
    ("1056", "Urdu"),
    ("1057", "Indonesian"),
    ("1058", "Ukrainian"),
    ("1059", "Belarusian"),
    ("1060", "Slovenian"),
    ("1061", "Estonian"),
    ("1062", "Latvian"),
    ("1063", "Lithuanian"),
    ("1064", "Tajik"),
    ("1065", "Persian"),
    ("1066", "Vietnamese"),
    ("1067", "Armenian"),
    ("1068", "Azerbaijani"),
    ("1069", "Basque"),
    ("1071", "Macedonian"),
    ("1079", "Georgian"),
    ("1081", "Hindi"),
    ("1082", "Maltese"),
    ("1086", "Malay"),
    ("1087", "Kazakh"),
    ("1088", "Kyrgyz"),
    ("1090", "Turkmen"),
    ("1091", "Uzbek"),
    ("1104", "Mongolian"),
    ("1106", "Welsh"),
    ("1110", "Galician"),
    ("2052", "Chinese (PRC)"),
    ("2057", "English (United Kingdom)"),
    ("2070", "Portuguese"),
    ("2074", "Serbian (Latin)"),
    ("2108", "Irish"),
    ("3082", "Spanish"),
    ("3098", "Serbian (Cyrillic)"),
    ("10249", "English (Belize)"),
    ("13321", "English (Philippines)"),
];

/// The reviewer's name of a locale code: the payload's own name (`field_locales`), else the
/// known LCID's, else the code.
pub fn locale_name(doc: &Document, code: &str) -> String {
    let code = code.trim();
    let sent = doc
        .document_info
        .as_ref()
        .and_then(|i| i.field_locales.get(code))
        .map(|t| t.0.trim())
        .filter(|n| !n.is_empty() && !n.chars().all(|c| c.is_ascii_digit()));
    sent.map(str::to_string)
        .or_else(|| {
            LOCALES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, n)| (*n).to_string())
        })
        .unwrap_or_else(|| code.to_string())
}

/// A field's name as the desk shows it: Latin fields by name, others with their locale's name
/// ("Surname (Latvian)").
pub fn field_label(doc: &Document, locale: &str, name: &str) -> String {
    if locale.trim() == "0" {
        name.to_string()
    } else {
        format!("{name} ({})", locale_name(doc, locale))
    }
}
