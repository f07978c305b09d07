//! A finding about a case: a stable code, a severity and one line for the reviewer; and the list
//! of every code KYC Desk raises.

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
/// How much a finding weighs. A case is clean when none is a warning or an error; approving over
/// an error needs a comment.
pub enum Severity {
    /// Worth knowing; does not make a case unclean.
    Info,
    /// Look before deciding.
    Warning,
    /// Against approving: an override needs a written reason.
    Error,
}

/// One finding about a case, by KYC Desk's own checks or restating what Ditto ID reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Flag {
    /// Stable machine code, e.g. `face_mismatch`.
    pub code: String,
    /// How much it weighs.
    pub severity: Severity,
    /// One line for the reviewer.
    pub message: String,
    /// The other cases this finding is about (references), for a history finding: the desk
    /// links each and shows it side by side.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
}

impl Flag {
    /// A finding about this case alone (no other cases named).
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Flag {
        Flag {
            code: code.into(),
            severity,
            message: message.into(),
            cases: Vec::new(),
        }
    }
}

/// Every flag code KYC Desk raises (what `decision.auto_reject` and the queue filter accept).
pub const FLAG_CODES: &[&str] = &[
    "face_mismatch",
    "face_score_missing",
    "liveness_low",
    "liveness_missing",
    "document_missing",
    "document_status",
    "ditto_error",
    "check_failed",
    "field_status",
    "nfc_not_read",
    "custom_body",
    "user_id_missing",
    "payload_coerced",
    "image_unreadable",
    "mrz_unreadable",
    "mrz_check_digit",
    "mrz_composite",
    "mrz_mismatch",
    "document_expired",
    "document_expiring",
    "under_age",
    "date_impossible",
    "date_ambiguous",
    "document_reused",
    "selfie_reused",
    "portrait_reused",
    "user_seen_before",
];

/// The history flags of a new case, from what the store already holds (read by
/// `Store::insert_case` inside the transaction that stores the case, so two
/// simultaneous submissions of one document cannot both miss each other): `reused` are the
/// references of other users' cases with the same document number, `same_selfie` those of other
/// users' cases with the same selfie and `same_portrait` with the same document portrait (by
/// perceptual hash), `earlier` the same user's cases as (reference, status).
pub fn history_flags(
    reused: &[String],
    same_selfie: &[String],
    same_portrait: &[String],
    earlier: &[(String, String)],
) -> Vec<Flag> {
    let mut flags = Vec::new();
    if !reused.is_empty() {
        flags.push(reuse_flag("document_reused", reused));
    }
    if !same_selfie.is_empty() {
        flags.push(reuse_flag("selfie_reused", same_selfie));
    }
    if !same_portrait.is_empty() {
        flags.push(reuse_flag("portrait_reused", same_portrait));
    }
    if !earlier.is_empty() {
        let list: Vec<String> = earlier
            .iter()
            .map(|(reference, status)| format!("{reference} ({status})"))
            .collect();
        let mut flag = Flag::new(
            "user_seen_before",
            Severity::Info,
            format!("This user has earlier cases: {}", list.join(", ")),
        );
        flag.cases = earlier.iter().map(|(r, _)| r.clone()).collect();
        flags.push(flag);
    }
    flags
}

/// A reuse finding (`document_reused`, `selfie_reused` or `portrait_reused`) naming the other users' cases: an
/// error, raised on the new case and, naming the new one, on each earlier case.
pub fn reuse_flag(code: &str, cases: &[String]) -> Flag {
    let what = match code {
        "selfie_reused" => "The same selfie (by its perceptual hash) was",
        "portrait_reused" => "The same document photo (its portrait's perceptual hash) was",
        _ => "The same document number was",
    };
    let mut flag = Flag::new(
        code,
        Severity::Error,
        format!("{what} submitted for another user in {}", cases.join(", ")),
    );
    flag.cases = cases.to_vec();
    flag
}
