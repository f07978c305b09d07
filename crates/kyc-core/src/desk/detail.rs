//! A case as a reviewer opens it (`CaseDetail`): its summary, payload shown through the model,
//! scores against the policy's thresholds, images, decisions, timeline, notes, suggested reasons
//! and the same user's other cases, read from the store on one snapshot.

use serde_json::Value;

use crate::config::DecisionConfig;
use crate::error::CoreError;
use crate::ingest;
use crate::view::{fields, mrz_view, source_name, CaseDetail, DocumentView, Score};
use kyc_store::{Snapshot, Store};

fn score(value: Option<f64>, threshold: f64) -> Score {
    Score {
        value,
        threshold,
        passed: value.map(|v| v >= threshold),
    }
}

pub(super) fn detail(
    store: &Store,
    key: &str,
    policy: &DecisionConfig,
) -> Result<CaseDetail, CoreError> {
    // One snapshot: the summary, decisions, timeline and notes agree with each other.
    store.snapshot(|store| read(store, key, policy))
}

fn read(store: &Snapshot<'_>, key: &str, policy: &DecisionConfig) -> Result<CaseDetail, CoreError> {
    let (summary, raw_json, model_json) = store.case_of(key)?;
    let id = summary.id;
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
    // The parts and the same user's other cases, read together.
    let parts = store.case_parts(
        id,
        &kyc_domain::case::CaseQuery {
            user_id: Some(summary.user_id.clone()),
            limit: 21,
            ..Default::default()
        },
    )?;
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
        images: parts.images,
        decisions: parts.decisions,
        timeline: parts.timeline,
        notes: parts.notes,
        suggested_reasons: kyc_domain::checks::suggested_reasons(&summary.flags, &policy.reasons),
        history: parts
            .others
            .into_iter()
            .filter(|c| c.id != id)
            .take(20)
            .collect(),
        raw,
        summary,
    })
}
