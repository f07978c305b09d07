//! The decision policy (`[decision]`): the hold window and its fallback, automatic decisions,
//! the thresholds the checks read, the reasons a reviewer picks from, four-eyes. Plain data with
//! safe defaults (fail closed); kyc-core reads it from the config file and validates it.

use serde::{Deserialize, Serialize};

/// What Ditto ID is answered when nobody decided within the hold window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// Answer `result: true`.
    Accept,
    /// Answer `result: false` (the default: fail closed).
    Reject,
}

/// Which cases the policy approves on its own.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AutoApprove {
    /// None: a person decides.
    Never,
    /// Cases with no warning or error.
    Clean,
}

/// `[decision]`: how cases are decided and answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// How long Ditto ID's request is held open for a reviewer's decision, in seconds.
    pub hold_secs: u64,
    /// What is answered when the window closes undecided.
    pub on_timeout: OnTimeout,
    /// Which cases the policy approves on its own.
    pub auto_approve: AutoApprove,
    /// Face-match similarity below this is a flag (open-ended score; 1.6 is Ditto's documented rule).
    pub face_match_threshold: f64,
    /// Liveness score (0..100) below this is a flag.
    pub liveness_threshold: f64,
    /// The reasons a reviewer picks from (a rejection needs at least one).
    pub reasons: Vec<Reason>,
    /// Flag codes that reject a case at once (e.g. "document_expired", "mrz_check_digit").
    pub auto_reject: Vec<String>,
    /// A document expiring within this many days is flagged.
    pub expiring_days: i64,
    /// A holder younger than this (on the day of receipt) is flagged.
    pub minimum_age: u32,
    /// Approving a flagged case (any warning or error) needs two different reviewers.
    pub four_eyes: bool,
}

/// One reason a reviewer can give.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Stable code stored with the decision, e.g. `document_expired`.
    pub code: String,
    /// What the reviewer reads.
    pub label: String,
    /// Flag codes that suggest this reason: opening reject mode on a case with one of them
    /// (a warning or an error) ticks it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

fn default_reasons() -> Vec<Reason> {
    let r: [(&str, &str, &[&str]); 6] = [
        (
            "document_expired",
            "Document expired",
            &["document_expired"],
        ),
        (
            "face_mismatch",
            "Face does not match the document",
            &["face_mismatch"],
        ),
        (
            "suspected_tampering",
            "Suspected tampering",
            &[
                "mrz_check_digit",
                "mrz_composite",
                "document_reused",
                "selfie_reused",
                "portrait_reused",
                "liveness_low",
            ],
        ),
        (
            "poor_image_quality",
            "Poor image quality",
            &["image_unreadable", "mrz_unreadable"],
        ),
        (
            "data_mismatch",
            "Data mismatch between sources",
            &["mrz_mismatch", "date_impossible"],
        ),
        ("other", "Other (explain in the comment)", &[]),
    ];
    r.into_iter()
        .map(|(code, label, flags)| Reason {
            code: code.into(),
            label: label.into(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
        })
        .collect()
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            hold_secs: 20,
            // Fail closed: what nobody decided in time is not waved through.
            on_timeout: OnTimeout::Reject,
            auto_approve: AutoApprove::Never,
            face_match_threshold: 1.6,
            liveness_threshold: 80.0,
            reasons: default_reasons(),
            auto_reject: Vec::new(),
            expiring_days: 30,
            minimum_age: 18,
            four_eyes: false,
        }
    }
}
