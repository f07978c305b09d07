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
pub struct Text(pub String);

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
pub struct Num(pub f64);

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
pub struct OneOrMany<T>(pub Vec<T>);

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
pub struct FieldList(pub Vec<String>);

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

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Payload {
    #[serde(default)]
    pub request_info: Option<RequestInfo>,
    #[serde(default)]
    pub kyc_info: Option<KycInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RequestInfo {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub requester_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct KycInfo {
    #[serde(default)]
    pub liveness_check: Option<LivenessCheck>,
    #[serde(default)]
    pub face_matcher_result: Option<FaceMatcherResult>,
    #[serde(default)]
    pub document: Option<Document>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessCheck {
    #[serde(default)]
    pub video: Option<LivenessVideo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessVideo {
    #[serde(default)]
    pub liveness_result: Option<LivenessResult>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LivenessResult {
    #[serde(default)]
    pub score: Option<Num>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FaceMatcherResult {
    /// Open-ended similarity (4.67 matched with rule ">= 1.6"; 0.0002 no match): not a percentage.
    #[serde(default)]
    pub score: Option<Num>,
    /// Unreliable (0 even for matches): stored, never trusted.
    #[serde(default)]
    pub score_percent: Option<Num>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Document {
    #[serde(default)]
    pub version: Option<Text>,
    #[serde(default)]
    pub document_info: Option<DocumentInfo>,
    #[serde(default)]
    pub document_status: Option<DocumentStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub identity_data: BTreeMap<String, Text>,
    /// Locale code → fields with their per-source values.
    #[serde(default, deserialize_with = "nullable")]
    pub identity_data_details: BTreeMap<String, Vec<FieldDetail>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocumentInfo {
    #[serde(default)]
    pub document_type_code: OneOrMany<i64>,
    #[serde(default)]
    pub document_type: OneOrMany<String>,
    #[serde(default)]
    pub document_names: OneOrMany<String>,
    #[serde(default)]
    pub field_sources: OneOrMany<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub field_locales: BTreeMap<String, Text>,
    #[serde(default)]
    pub field_count: Option<i64>,
    #[serde(default)]
    pub field_list: FieldList,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct DocumentStatus {
    #[serde(default)]
    pub error_list: OneOrMany<String>,
    #[serde(default)]
    pub warning_list: OneOrMany<String>,
    #[serde(default)]
    pub is_nfc_document: Option<bool>,
    #[serde(default)]
    pub nfc_scan_status: Option<String>,
    #[serde(default)]
    pub nfc_scan_status_reason: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub checks_performed: Vec<Check>,
    #[serde(default)]
    pub overall_document_status: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Check {
    #[serde(default)]
    pub check_category: Option<String>,
    #[serde(default)]
    pub check_name: Option<String>,
    #[serde(default)]
    pub check_status: Option<String>,
    /// Optional in the sender's payload; always present as KYC Desk sends it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(required = true)]
    pub check_detail: Vec<CheckDetail>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckDetail {
    #[serde(default)]
    pub element: Option<Text>,
    #[serde(default)]
    pub status: Option<Text>,
    #[serde(default)]
    pub detail: Option<Text>,
    #[serde(default, rename = "lcidName")]
    pub lcid_name: Option<Text>,
    #[serde(default)]
    pub source: Option<Text>,
    #[serde(default)]
    pub source1: Option<Text>,
    #[serde(default)]
    pub source2: Option<Text>,
    /// A string in the sender's payload ("0"); numbers are accepted too.
    #[serde(default)]
    pub match_percentage: Option<Text>,
    #[serde(default)]
    pub page_index: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FieldDetail {
    #[serde(default)]
    pub field_name: Option<String>,
    #[serde(default)]
    pub field_details: Option<FieldDetails>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FieldDetails {
    #[serde(default)]
    pub field_value: Option<Text>,
    #[serde(default)]
    pub field_status: Option<Text>,
    /// Source code (M, V, B, R) → value as read from that source.
    #[serde(default, deserialize_with = "nullable")]
    pub field_source_and_values: BTreeMap<String, Text>,
}

impl Payload {
    pub fn document(&self) -> Option<&Document> {
        self.kyc_info.as_ref()?.document.as_ref()
    }

    pub fn face_score(&self) -> Option<f64> {
        self.kyc_info
            .as_ref()?
            .face_matcher_result
            .as_ref()?
            .score
            .map(|n| n.0)
    }

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

    pub fn document_number(&self) -> Option<&str> {
        self.identity(&["Document number"])
    }

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
