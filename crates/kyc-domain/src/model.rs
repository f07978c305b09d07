//! Ditto ID's default payload (document structure v3.0) as typed structs: every optional part may be
//! absent or null, and the sender's quirks (field_list as array or object, numbers as strings) are
//! accepted. Unknown fields are ignored here and kept in the stored raw payload.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Accepts `null` (or absence, with `#[serde(default)]`) as `T::default()`.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A scalar the sender may give as string, number or bool; kept as its text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct Text(
    /// The value's text.
    pub String,
);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Text(s)),
            Value::Number(n) => Ok(Text(n.to_string())),
            Value::Bool(b) => Ok(Text(b.to_string())),
            Value::Null => Ok(Text(String::new())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, found {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A number the sender may give as a JSON number or as numeric text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Num(
    /// The value.
    pub f64,
);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bad = |what: &str| serde::de::Error::custom(format!("expected a number, found {what}"));
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .map(Num)
                .ok_or_else(|| bad("an out-of-range number")),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Num)
                .ok_or_else(|| bad("non-numeric text")),
            other => Err(bad(kind(&other))),
        }
    }
}

/// A list the sender may give as one value or an array.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct OneOrMany<T>(
    /// The values (none for null).
    pub Vec<T>,
);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape<T> {
            Many(Vec<T>),
            One(T),
            Null(()),
        }
        Ok(OneOrMany(match Shape::deserialize(d)? {
            Shape::Many(v) => v,
            Shape::One(t) => vec![t],
            Shape::Null(()) => vec![],
        }))
    }
}

/// `field_list` appears as `["Document class code", ...]` or `{"0": "Document class code", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FieldList(
    /// The field names, in the sender's order.
    pub Vec<String>,
);

impl<'de> Deserialize<'de> for FieldList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(FieldList(vec![])),
            Value::Array(items) => Ok(FieldList(items.iter().map(value_text).collect())),
            Value::Object(map) => {
                let mut pairs: Vec<(String, String)> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), value_text(v)))
                    .collect();
                // Keys are indexes as text: sort numerically where they are numbers.
                pairs.sort_by_key(|(k, _)| (k.parse::<u64>().unwrap_or(u64::MAX), k.clone()));
                Ok(FieldList(pairs.into_iter().map(|(_, v)| v).collect()))
            }
            other => Err(serde::de::Error::custom(format!(
                "expected an array or an object, found {}",
                kind(&other)
            ))),
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The whole body Ditto ID's IDV Server posts: who asks (`request_info`) and what was verified
/// (`kyc_info`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Payload {
    /// Who asks: user, app and request ids.
    #[serde(default)]
    pub request_info: Option<RequestInfo>,
    /// What was verified.
    #[serde(default)]
    pub kyc_info: Option<KycInfo>,
}

/// Who the verification is for: Ditto ID's ids of the user, the app and this request.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RequestInfo {
    /// Ditto ID's user (often an e-mail address or a phone number): the answer names it.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The enterprise's app in Ditto ID.
    #[serde(default)]
    pub app_id: Option<String>,
    /// This request's id: one case per requester id, and a repeat gets the stored answer.
    #[serde(default)]
    pub requester_id: Option<String>,
}

/// What the verification found: liveness, the face match and the document.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct KycInfo {
    /// The selfie's liveness check.
    #[serde(default)]
    pub liveness_check: Option<LivenessCheck>,
    /// The selfie matched against the document's portrait.
    #[serde(default)]
    pub face_matcher_result: Option<FaceMatcherResult>,
    /// The document as read.
    #[serde(default)]
    pub document: Option<Document>,
}

/// The liveness check of the selfie capture.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessCheck {
    /// The video capture's result.
    #[serde(default)]
    pub video: Option<LivenessVideo>,
}

/// The video liveness capture (its selfie image travels beside the result).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessVideo {
    /// The liveness verdict.
    #[serde(default)]
    pub liveness_result: Option<LivenessResult>,
}

/// The liveness verdict.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessResult {
    /// 0–100: how surely a live person was in front of the camera.
    #[serde(default)]
    pub score: Option<Num>,
}

/// The match of the selfie against the document's portrait.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FaceMatcherResult {
    /// Open-ended similarity (4.67 matched with rule ">= 1.6"; 0.0002 no match): not a percentage.
    #[serde(default)]
    pub score: Option<Num>,
    /// Unreliable (0 even for matches): stored, never trusted.
    #[serde(default)]
    pub score_percent: Option<Num>,
}

/// The document as the reader read it: its kind, its checks, and every identity field by source
/// and locale.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Document {
    /// The document structure's version (`3.0`).
    #[serde(default)]
    pub version: Option<Text>,
    /// What kind of document, and its fields, sources and locales.
    #[serde(default)]
    pub document_info: Option<DocumentInfo>,
    /// The reader's checks and verdict.
    #[serde(default)]
    pub document_status: Option<DocumentStatus>,
    /// Each identity field's final value, by field name ("Surname", "Document number", …).
    #[serde(default, deserialize_with = "nullable")]
    pub identity_data: BTreeMap<String, Text>,
    /// Locale code → fields with their per-source values.
    #[serde(default, deserialize_with = "nullable")]
    pub identity_data_details: BTreeMap<String, Vec<FieldDetail>>,
}

/// What kind of document was read, and which fields, sources and locales it has.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocumentInfo {
    /// The reader's numeric document type(s).
    #[serde(default)]
    pub document_type_code: OneOrMany<i64>,
    /// The document type(s) by name ("Passport", "Identity Card").
    #[serde(default)]
    pub document_type: OneOrMany<String>,
    /// The document's full name(s) ("Latvia - ePassport (2015)").
    #[serde(default)]
    pub document_names: OneOrMany<String>,
    /// The sources read: `M` (MRZ), `V` (visual zone), `B` (barcode), `R` (chip).
    #[serde(default)]
    pub field_sources: OneOrMany<String>,
    /// Locale code (an LCID; `0` is Latin) → the locale's name, where the sender names it.
    #[serde(default, deserialize_with = "nullable")]
    pub field_locales: BTreeMap<String, Text>,
    /// How many fields were read.
    #[serde(default)]
    pub field_count: Option<i64>,
    /// The fields read, by name.
    #[serde(default)]
    pub field_list: FieldList,
}

/// The reader's verdict on the document: errors, warnings, the chip, and each check it ran.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocumentStatus {
    /// Errors the reader reports ("Expired Document").
    #[serde(default)]
    pub error_list: OneOrMany<String>,
    /// Warnings the reader reports.
    #[serde(default)]
    pub warning_list: OneOrMany<String>,
    /// Whether the document has a chip.
    #[serde(default)]
    pub is_nfc_document: Option<bool>,
    /// What became of reading the chip ("NFC SCAN SUCCESSFUL", "NFC SCAN BYPASSED").
    #[serde(default)]
    pub nfc_scan_status: Option<String>,
    /// Why, when the chip was not read.
    #[serde(default)]
    pub nfc_scan_status_reason: Option<String>,
    /// Every check the reader ran.
    #[serde(default, deserialize_with = "nullable")]
    pub checks_performed: Vec<Check>,
    /// The reader's overall verdict: `OK`, `WARNING`, `ERROR` or `NOT DONE`.
    #[serde(default)]
    pub overall_document_status: Option<String>,
}

/// One check the reader ran on the document (e.g. "Date of Expiry Validation").
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// The check's category ("Data Validation", "Document Authenticity").
    #[serde(default)]
    pub check_category: Option<String>,
    /// The check's name ("Mandatory Data", "Hologram").
    #[serde(default)]
    pub check_name: Option<String>,
    /// Its result: `OK`, `WARNING`, `ERROR` or `NOT DONE`.
    #[serde(default)]
    pub check_status: Option<String>,
    /// Optional in the sender's payload; always present as KYC Desk sends it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(required = true)]
    pub check_detail: Vec<CheckDetail>,
}

/// One element of a check: what was compared, from which sources, with what result.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckDetail {
    /// What was checked (a field name, "Hologram", "Glares").
    #[serde(default)]
    pub element: Option<Text>,
    /// Its result: `OK`, `WARNING`, `ERROR`.
    #[serde(default)]
    pub status: Option<Text>,
    /// The reader's words about it ("Values match").
    #[serde(default)]
    pub detail: Option<Text>,
    /// The locale the element was read in (`lcidName`).
    #[serde(default, rename = "lcidName")]
    pub lcid_name: Option<Text>,
    /// The source it was read from (`MRZ`, `VISUAL`, …), for a check of one source.
    #[serde(default)]
    pub source: Option<Text>,
    /// The first source compared, for a comparison.
    #[serde(default)]
    pub source1: Option<Text>,
    /// The second source compared, for a comparison.
    #[serde(default)]
    pub source2: Option<Text>,
    /// A string in the sender's payload ("0"); numbers are accepted too.
    #[serde(default)]
    pub match_percentage: Option<Text>,
    /// The document page it is about.
    #[serde(default)]
    pub page_index: Option<Text>,
}

/// One identity field in one locale, by name.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FieldDetail {
    /// The field's name ("Surname").
    #[serde(default)]
    pub field_name: Option<String>,
    /// Its value, status and per-source values.
    #[serde(default)]
    pub field_details: Option<FieldDetails>,
}

/// An identity field's final value, its status, and its value as each source read it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FieldDetails {
    /// The final value.
    #[serde(default)]
    pub field_value: Option<Text>,
    /// The reader's status of the field (`OK`, `ERROR`).
    #[serde(default)]
    pub field_status: Option<Text>,
    /// Source code (M, V, B, R) → value as read from that source.
    #[serde(default, deserialize_with = "nullable")]
    pub field_source_and_values: BTreeMap<String, Text>,
}

impl Payload {
    /// The document part, if one was sent.
    pub fn document(&self) -> Option<&Document> {
        self.kyc_info.as_ref()?.document.as_ref()
    }

    /// The face match score, if one was sent.
    pub fn face_score(&self) -> Option<f64> {
        self.kyc_info
            .as_ref()?
            .face_matcher_result
            .as_ref()?
            .score
            .map(|n| n.0)
    }

    /// The liveness score, if one was sent.
    pub fn liveness_score(&self) -> Option<f64> {
        self.kyc_info
            .as_ref()?
            .liveness_check
            .as_ref()?
            .video
            .as_ref()?
            .liveness_result
            .as_ref()?
            .score
            .map(|n| n.0)
    }

    /// The reader's verdict on the document, if sent.
    pub fn status(&self) -> Option<&DocumentStatus> {
        self.document()?.document_status.as_ref()
    }

    /// The final value of an identity field (from `identity_data`), by any of the given names.
    pub fn identity(&self, names: &[&str]) -> Option<&str> {
        let doc = self.document()?;
        names.iter().find_map(|n| {
            doc.identity_data
                .get(*n)
                .map(|t| t.0.trim())
                .filter(|s| !s.is_empty())
        })
    }

    /// The holder's name: "Surname and given names", else the given names and surname.
    pub fn holder_name(&self) -> Option<String> {
        if let Some(full) = self.identity(&["Surname and given names"]) {
            return Some(full.to_string());
        }
        let given = self.identity(&["Given names", "Given name"]);
        let surname = self.identity(&["Surname"]);
        match (given, surname) {
            (Some(g), Some(s)) => Some(format!("{g} {s}")),
            (Some(x), None) | (None, Some(x)) => Some(x.to_string()),
            _ => None,
        }
    }

    /// The document's number.
    pub fn document_number(&self) -> Option<&str> {
        self.identity(&["Document number"])
    }

    /// The document's first type by name.
    pub fn document_type(&self) -> Option<&str> {
        let info = self.document()?.document_info.as_ref()?;
        info.document_type.0.first().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerates_absent_and_null_parts() {
        let p: Payload =
            serde_json::from_value(json!({"request_info": {"user_id": "u", "requester_id": "r"}}))
                .unwrap();
        assert!(p.document().is_none());
        let p: Payload = serde_json::from_value(json!({
            "kyc_info": {"document": {"identity_data": null, "document_status": {"error_list": null, "checks_performed": null}}}
        }))
        .unwrap();
        assert!(p.status().unwrap().error_list.0.is_empty());
    }

    #[test]
    fn accepts_sender_quirks_and_keeps_unknown_fields() {
        let p: Payload = serde_json::from_value(json!({
            "kyc_info": {"document": {
                "document_info": {"field_list": {"1": "Surname", "0": "Document class code"}, "document_type": "Passport", "sdk": "7"},
                "document_status": {"checks_performed": [{"check_detail": [{"match_percentage": "0"}, {"match_percentage": 87}]}]},
                "identity_data": {"Age": 42, "Surname": "Ozola"}
            }}
        }))
        .unwrap();
        let info = p.document().unwrap().document_info.as_ref().unwrap();
        assert_eq!(info.field_list.0, vec!["Document class code", "Surname"]);
        assert_eq!(info.document_type.0, vec!["Passport"]);
        let details = &p.status().unwrap().checks_performed[0].check_detail;
        assert_eq!(details[0].match_percentage.as_ref().unwrap().0, "0");
        assert_eq!(details[1].match_percentage.as_ref().unwrap().0, "87");
        assert_eq!(p.identity(&["Age"]), Some("42"));
        let list: FieldList = serde_json::from_value(json!(["a", "b"])).unwrap();
        assert_eq!(list.0, vec!["a", "b"]);
    }
}
