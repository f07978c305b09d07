//! The case as the review desk shows it: identity fields by source, scores against thresholds,
//! Ditto ID's document status and checks, images, decisions and the raw payload.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use kyc_domain::case::{AuditEntry, CaseSummary, DecisionRecord, ImageInfo, Note};
use kyc_domain::model::{Check, Payload};

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
    pub timeline: Vec<AuditEntry>,
    /// The MRZ as read with its check digits, when the fields hold one that parses.
    pub mrz: Option<MrzView>,
    /// Internal notes and escalations, oldest first (the timeline's `case.note_added` and
    /// `case.escalated` entries name them by id).
    pub notes: Vec<Note>,
    /// The reject reasons its findings suggest (`decision.reasons[].flags`): reject mode starts
    /// with them ticked.
    pub suggested_reasons: Vec<String>,
    #[schema(value_type = Object)]
    pub raw: Value,
}

pub use kyc_domain::labels::{field_label, locale_name, source_name};

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
