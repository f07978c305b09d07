//! Ditto ID's answer, shaped by `[receiver.answer]` so that it matches whatever `responseBody`
//! locators the Ditto ID admin configured (plain names or dotted paths).

use serde_json::{json, Map, Value};

use crate::config::AnswerConfig;
use crate::store::Answer;

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

/// The JSON body Ditto ID receives.
pub fn shape(a: &Answer, cfg: &AnswerConfig) -> Value {
    let mut root = Map::new();
    for (key, path) in cfg.locators() {
        if key == "user_id" && a.user_id.is_empty() {
            continue; // no user named: Ditto ID keeps its own (it renames to what is answered)
        }
        let value = match key {
            "result" => json!(a.result),
            "reference_number" => json!(a.reference),
            "user_id" => json!(a.user_id),
            "status_code" => json!(200),
            _ => json!(status_message(a)),
        };
        put(&mut root, path, value);
    }
    Value::Object(root)
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
        };
        let v = shape(&answer(), &cfg);
        assert_eq!(locate(&v, "data.kyc.approved"), Some(&json!(true)));
        assert_eq!(locate(&v, "data.ref"), Some(&json!("KYC-2026-000001")));
        assert_eq!(locate(&v, "user.id"), Some(&json!("testuser1")));
        assert_eq!(locate(&v, "status.message"), Some(&json!("approved")));
    }
}
