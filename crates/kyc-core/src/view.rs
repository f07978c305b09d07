//! The case as the review desk shows it: identity fields by source, scores against thresholds,
//! Ditto ID's document status and checks, images, decisions and the raw payload.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::config::DecisionConfig;
use crate::error::CoreError;
use crate::ingest;
use crate::store::Store;
use kyc_domain::case::{CaseSummary, DecisionRecord, ImageInfo};
use kyc_domain::model::{Check, Document, Payload};

/// The MRZ as read, with each check digit's place and verdict (the desk marks the failing ones).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MrzView {
    /// The lines as read (upper case, no separators).
    pub lines: Vec<String>,
    pub checks: Vec<MrzDigit>,
}

/// One MRZ check digit: which field it guards, where it is printed, and what it should be.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MrzDigit {
    /// "document number", "date of birth", "date of expiry", "optional data" or "composite".
    pub field: String,
    /// Line and column of the printed digit, from 0.
    pub line: usize,
    pub column: usize,
    pub found: String,
    pub expected: String,
    pub ok: bool,
}

/// The MRZ of the fields (the final value of "MRZ lines"), if it parses.
pub fn mrz_view(fields: &[FieldRow]) -> Option<MrzView> {
    let text = fields
        .iter()
        .find(|f| f.name == "MRZ lines")?
        .value
        .as_deref()?;
    let m = kyc_domain::mrz::parse(text).ok()?;
    Some(MrzView {
        checks: m
            .checks
            .iter()
            .map(|c| MrzDigit {
                field: c.field.to_string(),
                line: c.at.0,
                column: c.at.1,
                found: c.found.to_string(),
                expected: c.expected.to_string(),
                ok: c.ok(),
            })
            .collect(),
        lines: m.lines,
    })
}

/// One identity field with its value as read from each source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldRow {
    pub name: String,
    /// The sender's final value.
    pub value: Option<String>,
    pub status: Option<String>,
    /// Source name (`MRZ`, `Visual`, `Barcode`, `Chip`, or the raw code) → value.
    pub sources: BTreeMap<String, String>,
    /// True when two sources disagree.
    pub mismatch: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub value: Option<f64>,
    pub threshold: f64,
    pub passed: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub types: Vec<String>,
    pub names: Vec<String>,
    pub overall_status: Option<String>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub is_nfc_document: Option<bool>,
    pub nfc_scan_status: Option<String>,
    pub nfc_scan_status_reason: Option<String>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub app_id: Option<String>,
    /// Where the document portrait was read (`portrait_image_source`): "Chip", "Visual", or the
    /// code as sent.
    pub portrait_source: Option<String>,
    pub face_match: Score,
    pub liveness: Score,
    /// Reported but never trusted (it is 0 even for matches).
    pub face_score_percent: Option<f64>,
    pub document: Option<DocumentView>,
    pub fields: Vec<FieldRow>,
    pub images: Vec<ImageInfo>,
    pub decisions: Vec<DecisionRecord>,
    /// The same user's other cases, newest first.
    pub history: Vec<CaseSummary>,
    /// What happened to the case (from the audit trail), oldest first.
    pub timeline: Vec<crate::audit::AuditEntry>,
    /// The MRZ as read with its check digits, when the fields hold one that parses.
    pub mrz: Option<MrzView>,
    /// Internal notes and escalations, oldest first (the timeline's `case.note_added` and
    /// `case.escalated` entries name them by id).
    pub notes: Vec<crate::notes::Note>,
    /// The reject reasons its findings suggest (`decision.reasons[].flags`): reject mode starts
    /// with them ticked.
    pub suggested_reasons: Vec<String>,
    #[schema(value_type = Object)]
    pub raw: Value,
}

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

pub fn fields(p: &Payload) -> Vec<FieldRow> {
    let Some(doc) = p.document() else {
        return vec![];
    };
    let mut rows: Vec<FieldRow> = Vec::new();
    // Latin ("0") first, then other locales.
    let mut locales: Vec<&String> = doc.identity_data_details.keys().collect();
    locales.sort_by_key(|k| (k.as_str() != "0", k.to_string()));
    for locale in locales {
        for f in &doc.identity_data_details[locale] {
            let Some(name) = f.field_name.clone() else {
                continue;
            };
            let details = f.field_details.as_ref();
            let sources: BTreeMap<String, String> = details
                .map(|d| {
                    d.field_source_and_values
                        .iter()
                        .map(|(k, v)| (source_name(k), v.0.clone()))
                        .collect()
                })
                .unwrap_or_default();
            let values: Vec<&String> = sources.values().filter(|v| !v.trim().is_empty()).collect();
            let mismatch = values
                .iter()
                .any(|a| values.iter().any(|b| !kyc_domain::text::same_value(a, b)));
            let label = field_label(doc, locale, &name);
            rows.push(FieldRow {
                value: details
                    .and_then(|d| d.field_value.as_ref())
                    .map(|t| t.0.clone())
                    .or_else(|| doc.identity_data.get(&label).map(|t| t.0.clone())),
                status: details
                    .and_then(|d| d.field_status.as_ref())
                    .map(|t| t.0.clone()),
                mismatch,
                sources,
                name: label,
            });
        }
    }
    for (name, value) in &doc.identity_data {
        if !rows.iter().any(|r| &r.name == name) {
            rows.push(FieldRow {
                name: name.clone(),
                value: Some(value.0.clone()),
                status: None,
                sources: BTreeMap::new(),
                mismatch: false,
            });
        }
    }
    rows
}

fn score(value: Option<f64>, threshold: f64) -> Score {
    Score {
        value,
        threshold,
        passed: value.map(|v| v >= threshold),
    }
}

pub fn detail(store: &Store, key: &str, policy: &DecisionConfig) -> Result<CaseDetail, CoreError> {
    let id = store.resolve(key)?;
    let summary = store.summary(id)?;
    let (raw_json, model_json) = store.payload_json(id)?;
    // A custom body is shown through the model it was mapped into; `raw` stays as received.
    let payload = ingest::reparse(model_json.as_deref().unwrap_or(&raw_json))?;
    let raw: Value =
        serde_json::from_str(&raw_json).map_err(|e| CoreError::Internal(e.to_string()))?;
    let document = payload.document().map(|d| {
        let info = d.document_info.clone().unwrap_or_default();
        let st = d.document_status.clone().unwrap_or_default();
        DocumentView {
            types: info.document_type.0,
            names: info.document_names.0,
            overall_status: st.overall_document_status,
            errors: st.error_list.0,
            warnings: st.warning_list.0,
            is_nfc_document: st.is_nfc_document,
            nfc_scan_status: st.nfc_scan_status,
            nfc_scan_status_reason: st.nfc_scan_status_reason,
            checks: st.checks_performed,
        }
    });
    let portrait_source = ingest::DOCUMENT_IMAGE_PARENTS
        .iter()
        .find_map(|parent| raw.pointer(&format!("{parent}/portrait_image_source")))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|code| source_name(&code.to_ascii_uppercase()));
    let rows = fields(&payload);
    Ok(CaseDetail {
        app_id: payload.request_info.as_ref().and_then(|r| r.app_id.clone()),
        portrait_source,
        face_match: score(payload.face_score(), policy.face_match_threshold),
        liveness: score(payload.liveness_score(), policy.liveness_threshold),
        face_score_percent: payload
            .kyc_info
            .as_ref()
            .and_then(|k| k.face_matcher_result.as_ref())
            .and_then(|f| f.score_percent)
            .map(|n| n.0),
        mrz: mrz_view(&rows),
        fields: rows,
        document,
        images: store.images(id)?,
        decisions: store.decisions(id)?,
        timeline: store.timeline(id)?,
        notes: store.notes(id)?,
        suggested_reasons: crate::checks::suggested_reasons(&summary.flags, &policy.reasons),
        history: store
            .list(&kyc_domain::case::CaseQuery {
                user_id: Some(summary.user_id.clone()),
                limit: 21,
                ..Default::default()
            })?
            .cases
            .into_iter()
            .filter(|c| c.id != id)
            .take(20)
            .collect(),
        raw,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::fields;
    use kyc_domain::model::Payload;
    use serde_json::json;

    fn document(field_locales: serde_json::Value) -> Payload {
        let field = |name: &str, value: &str| {
            json!({"field_name": name, "field_details": {"field_value": value,
                   "field_source_and_values": {"V": value}}})
        };
        serde_json::from_value(json!({"kyc_info": {"document": {
            "document_info": {"field_locales": field_locales},
            "identity_data_details": {
                "0": [field("Surname", "BERZINA")],
                "1062": [field("Surname", "Bērziņa")],
                "1049": [field("Surname", "Берзиня")],
                "99999": [field("Surname", "?")],
            }
        }}}))
        .unwrap()
    }

    #[test]
    fn national_fields_are_labelled_by_locale_name() {
        let names =
            |p: &Payload| -> Vec<String> { fields(p).into_iter().map(|r| r.name).collect() };
        // Named by the payload where it names them, else by the LCID table, else by the code.
        assert_eq!(
            names(&document(
                json!({"0": "Latin", "1062": "Latviešu", "1049": 1049})
            )),
            [
                "Surname",
                "Surname (Russian)",
                "Surname (Latviešu)",
                "Surname (99999)"
            ]
        );
        assert_eq!(
            names(&document(json!(null))),
            [
                "Surname",
                "Surname (Russian)",
                "Surname (Latvian)",
                "Surname (99999)"
            ]
        );
    }
}
