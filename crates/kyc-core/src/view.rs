//! The case as the review desk shows it: identity fields by source, scores against thresholds,
//! Ditto ID's document status and checks, images, decisions and the raw payload.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::config::DecisionConfig;
use crate::error::CoreError;
use crate::ingest;
use crate::model::{Check, Payload};
use crate::store::{CaseSummary, DecisionRecord, ImageInfo, Store};

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
    #[schema(value_type = Vec<Object>)]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub app_id: Option<String>,
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

/// Upper-case letters and digits only, accents dropped (`Bērziņa` → `BERZINA`), or with ICAO 9303
/// transliteration first (`Müller` → `MUELLER`) when `icao` is set.
pub(crate) fn fold(v: &str, icao: bool) -> String {
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

/// Whether two sources' values say the same thing (case, accents, fillers and ICAO spelling aside).
pub fn same_value(a: &str, b: &str) -> bool {
    fold(a, false) == fold(b, false) || fold(a, true) == fold(b, true)
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
                .any(|a| values.iter().any(|b| !same_value(a, b)));
            let label = if locale == "0" {
                name
            } else {
                format!("{name} ({locale})")
            };
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
    Ok(CaseDetail {
        app_id: payload.request_info.as_ref().and_then(|r| r.app_id.clone()),
        face_match: score(payload.face_score(), policy.face_match_threshold),
        liveness: score(payload.liveness_score(), policy.liveness_threshold),
        face_score_percent: payload
            .kyc_info
            .as_ref()
            .and_then(|k| k.face_matcher_result.as_ref())
            .and_then(|f| f.score_percent)
            .map(|n| n.0),
        fields: fields(&payload),
        document,
        images: store.images(id)?,
        decisions: store.decisions(id)?,
        timeline: store.timeline(id)?,
        history: store
            .list(&crate::store::CaseQuery {
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
    }
}
