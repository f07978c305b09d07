//! Which looks at personal data reach the audit trail, and only once each: a case opened
//! (`case.viewed`: once per person per case per opening; the opening lasts while the person keeps
//! looking, its images and live refreshes are part of it), an image fetched without its case open
//! (`case.image_viewed`), a list or search (`cases.listed`: once per person per distinct query
//! while it is being looked at; search words only as a keyed tag).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use kyc_domain::case::CaseQuery;

/// An opening ends after this long without a look (ms).
pub const OPENING_MS: i64 = 10 * 60 * 1000;
/// The most (person, look) pairs remembered; beyond, the oldest are forgotten (a forgotten look
/// is audited again: never fewer entries, at worst one more).
const MAX_TRACKED: usize = 20_000;

/// One kind of look.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Look {
    Case(i64),
    Image(i64, String),
    /// A list query, by its canonical filter (search words as tags).
    Query(String),
}

/// The looks of the last [`OPENING_MS`], per person.
#[derive(Debug, Default)]
pub struct Looks {
    last: Mutex<HashMap<(String, Look), i64>>,
}

impl Looks {
    /// Records that `user` looked at `look` at `now` (ms); true when that starts a new opening
    /// (nothing of the same kind within [`OPENING_MS`] before), i.e. when it is to be audited.
    pub fn starts_opening(&self, user: &str, look: Look, now: i64) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true; // a poisoned map audits everything: never fewer entries
        };
        if last.len() >= MAX_TRACKED {
            last.retain(|_, at| now - *at < OPENING_MS);
            if last.len() >= MAX_TRACKED {
                last.clear();
            }
        }
        let previous = last.insert((user.to_string(), look), now);
        previous.is_none_or(|at| now - at >= OPENING_MS)
    }

    /// Whether `user` has case `id` open (looked at within [`OPENING_MS`]); keeps it open.
    pub fn has_open(&self, user: &str, id: i64, now: i64) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        match last.get_mut(&(user.to_string(), Look::Case(id))) {
            Some(at) if now - *at < OPENING_MS => {
                *at = now;
                true
            }
            _ => false,
        }
    }
}

/// A list query as the audit trail records it: the filter, with the search words and the user id
/// replaced by keyed tags (`tag` is the vault's keyed tag, hex), never in clear.
pub fn query_detail(q: &CaseQuery, tag: impl Fn(&str) -> String) -> Value {
    let mut detail = json!({});
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            detail[k] = v;
        }
    };
    put("status", json!(q.status));
    put("flag", json!(q.flag));
    put("document_type", json!(q.document_type));
    put("from_ms", json!(q.from_ms));
    put("to_ms", json!(q.to_ms));
    put("answered_by", json!(q.answered_by));
    put("assignee", json!(q.assignee));
    if q.awaiting_second {
        put("awaiting_second", json!(true));
    }
    put("requester_id", json!(q.requester_id));
    put(
        "q_tag",
        json!(q.q.as_deref().map(|w| tag(&w.trim().to_lowercase()))),
    );
    put("user_id_tag", json!(q.user_id.as_deref().map(&tag)));
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_person_per_look_per_opening() {
        let looks = Looks::default();
        let t = 1_000_000;
        assert!(looks.starts_opening("rita", Look::Case(1), t));
        // Refreshes within the opening, even spread over more than the window in total.
        for i in 1..30 {
            assert!(!looks.starts_opening("rita", Look::Case(1), t + i * 60_000));
        }
        assert!(looks.has_open("rita", 1, t + 30 * 60_000));
        // Someone else, another case: entries of their own.
        assert!(looks.starts_opening("rob", Look::Case(1), t));
        assert!(looks.starts_opening("rita", Look::Case(2), t));
        // After a pause longer than the window: a new opening.
        assert!(!looks.has_open("rita", 1, t + 50 * 60_000));
        assert!(looks.starts_opening("rita", Look::Case(1), t + 50 * 60_000));
    }

    #[test]
    fn search_words_and_user_ids_are_recorded_as_tags_only() {
        let q = CaseQuery {
            q: Some("Bērziņa".into()),
            user_id: Some("anna@example.com".into()),
            status: Some("pending".into()),
            ..Default::default()
        };
        let d = query_detail(&q, |v| format!("tag({})", v.len()));
        let text = d.to_string();
        assert!(!text.contains("rziņa") && !text.contains("anna@"), "{text}");
        assert_eq!(d["status"], "pending");
        assert!(d.get("flag").is_none());
        assert!(d["q_tag"].is_string() && d["user_id_tag"].is_string());
    }
}
