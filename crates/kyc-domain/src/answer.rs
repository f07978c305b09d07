//! Ditto ID's answer, shaped by `[receiver.answer]` so that it matches whatever `responseBody`
//! locators the Ditto ID admin configured (plain names or dotted paths).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::case::Answer;

/// Dotted paths of the answer's fields; an empty path leaves that field out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    /// `resultLocator`: the decision (a boolean).
    pub result: String,
    /// `referenceNumberLocator`: the case's reference.
    pub reference_number: String,
    /// `userIdLocator`: the user the answer is about.
    pub user_id: String,
    /// `statusCodeLocator`: 200 (left out when empty).
    pub status_code: String,
    /// `statusMessageLocator`: one line saying what was decided (left out when empty).
    pub status_message: String,
    /// `primaryUserIdLocator`: the customer id a reviewer linked the case to. When set, a linked
    /// id goes here and `user_id` echoes the id Ditto ID sent (no rename); unset, a linked id
    /// renames the user through `user_id`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub primary_user_id: String,
    /// `loginIdsLocator`: a list of the user's login ids: the id Ditto ID sent and a linked
    /// customer id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub login_ids: String,
    /// `forUserIdLocator`: the user the decision is for (agent-assisted flows): the id sent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub for_user_id: String,
    /// `orchestrationUseCaseLocator`: the use case Ditto ID continues with, per outcome
    /// (`use_case_approved`, `use_case_rejected`; left out when that one is empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub orchestration_use_case: String,
    /// The use case an approval continues with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub use_case_approved: String,
    /// The use case a rejection continues with.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub use_case_rejected: String,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            result: "result".into(),
            reference_number: "reference_number".into(),
            user_id: "user_id".into(),
            status_code: String::new(),
            status_message: String::new(),
            primary_user_id: String::new(),
            login_ids: String::new(),
            for_user_id: String::new(),
            orchestration_use_case: String::new(),
            use_case_approved: String::new(),
            use_case_rejected: String::new(),
        }
    }
}

impl AnswerConfig {
    /// (config key, path) of every locator in use.
    pub fn locators(&self) -> Vec<(&'static str, &str)> {
        [
            ("result", self.result.as_str()),
            ("reference_number", self.reference_number.as_str()),
            ("user_id", self.user_id.as_str()),
            ("status_code", self.status_code.as_str()),
            ("status_message", self.status_message.as_str()),
            ("primary_user_id", self.primary_user_id.as_str()),
            ("login_ids", self.login_ids.as_str()),
            ("for_user_id", self.for_user_id.as_str()),
            (
                "orchestration_use_case",
                self.orchestration_use_case.as_str(),
            ),
        ]
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .collect()
    }
}

fn put(root: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut node = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_string(), value);
            return;
        }
        let next = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        node = next.as_object_mut().expect("just made an object");
    }
}

/// Reads a dotted path (what Ditto ID's locator does with our answer).
pub fn locate<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |node, part| node.get(part))
}

/// One line for the status message field.
pub fn status_message(a: &Answer) -> &'static str {
    match (a.result, a.by.as_str()) {
        (true, "timeout") => "accepted for offline review",
        (false, "timeout") => "rejected: no decision within the review window",
        (true, _) => "approved",
        (false, _) => "rejected",
    }
}

/// The JSON body Ditto ID receives. A part with nothing to say (no user id, no linked customer
/// id, no use case for this outcome) is left out rather than sent empty.
pub fn shape(a: &Answer, cfg: &AnswerConfig) -> Value {
    let mut root = Map::new();
    let linked = a.linked_user_id();
    let primary_configured = !cfg.primary_user_id.is_empty();
    for (key, path) in cfg.locators() {
        let value = match key {
            "result" => Some(json!(a.result)),
            "reference_number" => Some(json!(a.reference)),
            "user_id" if primary_configured => text(&a.sent_user_id),
            "user_id" => text(&a.user_id),
            "status_code" => Some(json!(200)),
            "primary_user_id" => linked.and_then(text),
            "login_ids" => {
                let mut ids: Vec<&str> = [a.sent_user_id.as_str()]
                    .into_iter()
                    .chain(linked)
                    .filter(|s| !s.is_empty())
                    .collect();
                ids.dedup();
                (!ids.is_empty()).then(|| json!(ids))
            }
            "for_user_id" => text(&a.sent_user_id),
            "orchestration_use_case" => text(if a.result {
                &cfg.use_case_approved
            } else {
                &cfg.use_case_rejected
            }),
            _ => Some(json!(status_message(a))),
        };
        if let Some(value) = value {
            put(&mut root, path, value);
        }
    }
    Value::Object(root)
}

/// A text value, or nothing for an empty one.
fn text(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| json!(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer {
            result: true,
            at: "2026-11-25T10:00:00.000Z".into(),
            by: "reviewer".into(),
            user_id: "testuser1".into(),
            reference: "KYC-2026-000001".into(),
            sent_user_id: "testuser1".into(),
        }
    }

    #[test]
    fn default_shape_is_the_documented_one() {
        assert_eq!(
            shape(&answer(), &AnswerConfig::default()),
            json!({"result": true, "reference_number": "KYC-2026-000001", "user_id": "testuser1"})
        );
    }

    #[test]
    fn dotted_locators_nest() {
        let cfg = AnswerConfig {
            result: "data.kyc.approved".into(),
            reference_number: "data.ref".into(),
            user_id: "user.id".into(),
            status_code: "status.code".into(),
            status_message: "status.message".into(),
            ..AnswerConfig::default()
        };
        let v = shape(&answer(), &cfg);
        assert_eq!(locate(&v, "data.kyc.approved"), Some(&json!(true)));
        assert_eq!(locate(&v, "data.ref"), Some(&json!("KYC-2026-000001")));
        assert_eq!(locate(&v, "user.id"), Some(&json!("testuser1")));
        assert_eq!(locate(&v, "status.message"), Some(&json!("approved")));
    }

    #[test]
    fn the_extra_locators_carry_the_linked_id_login_ids_the_user_and_the_use_case() {
        let cfg = AnswerConfig {
            primary_user_id: "primaryUserId".into(),
            login_ids: "loginIds".into(),
            for_user_id: "forUserId".into(),
            orchestration_use_case: "next.useCase".into(),
            use_case_approved: "onboarding-complete".into(),
            use_case_rejected: String::new(),
            ..AnswerConfig::default()
        };
        // Not linked: the user id sent everywhere; no primary id; the approved use case.
        let v = shape(&answer(), &cfg);
        assert_eq!(
            v,
            json!({"result": true, "reference_number": "KYC-2026-000001", "user_id": "testuser1",
                   "loginIds": ["testuser1"], "forUserId": "testuser1",
                   "next": {"useCase": "onboarding-complete"}})
        );
        // Linked to a customer id: the primary id and a second login id; user_id is not renamed
        // while a primary locator is configured. Rejected: no use case configured, none sent.
        let linked = Answer {
            result: false,
            user_id: "CUST-77".into(),
            ..answer()
        };
        let v = shape(&linked, &cfg);
        assert_eq!(v["user_id"], "testuser1");
        assert_eq!(v["primaryUserId"], "CUST-77");
        assert_eq!(v["loginIds"], json!(["testuser1", "CUST-77"]));
        assert!(v.get("next").is_none(), "{v}");
        // Without a primary locator the link renames the user, as before.
        let plain = shape(&linked, &AnswerConfig::default());
        assert_eq!(plain["user_id"], "CUST-77");
    }
}
