//! KYC Desk's own view of a submission: flags with a severity and a one-line explanation.
//! Ditto ID lets users "continue anyway", so nothing the sender concludes is taken on trust.

use serde::{Deserialize, Serialize};

use crate::config::DecisionConfig;
use crate::ingest::CustomBody;
use crate::model::Payload;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// Stable machine code, e.g. `face_mismatch`.
    pub code: String,
    pub severity: Severity,
    /// One line for the reviewer.
    pub message: String,
}

impl Flag {
    fn new(code: &str, severity: Severity, message: impl Into<String>) -> Flag {
        Flag {
            code: code.into(),
            severity,
            message: message.into(),
        }
    }
}

/// Runs the checks on a submission. A case is "clean" when no flag is a warning or an error.
pub fn evaluate(p: &Payload, policy: &DecisionConfig) -> Vec<Flag> {
    let mut flags = Vec::new();
    match p.face_score() {
        Some(s) if s < policy.face_match_threshold => flags.push(Flag::new(
            "face_mismatch",
            Severity::Error,
            format!(
                "Face-match score {s} is below the threshold {}",
                policy.face_match_threshold
            ),
        )),
        Some(_) => {}
        None => flags.push(Flag::new(
            "face_score_missing",
            Severity::Warning,
            "No face-match score was sent",
        )),
    }
    match p.liveness_score() {
        Some(s) if s < policy.liveness_threshold => flags.push(Flag::new(
            "liveness_low",
            Severity::Error,
            format!(
                "Liveness score {s} is below the threshold {}",
                policy.liveness_threshold
            ),
        )),
        Some(_) => {}
        None => flags.push(Flag::new(
            "liveness_missing",
            Severity::Warning,
            "No liveness score was sent",
        )),
    }
    match p.status() {
        None => flags.push(Flag::new(
            "document_missing",
            Severity::Warning,
            "No document status was sent",
        )),
        Some(status) => {
            match status.overall_document_status.as_deref().map(str::trim) {
                Some("OK") => {}
                Some(s @ ("ERROR" | "NOT DONE")) => flags.push(Flag::new(
                    "document_status",
                    Severity::Error,
                    format!("Ditto ID's overall document status is {s}"),
                )),
                Some(s) => flags.push(Flag::new(
                    "document_status",
                    Severity::Warning,
                    format!("Ditto ID's overall document status is {s}"),
                )),
                None => flags.push(Flag::new(
                    "document_status",
                    Severity::Warning,
                    "Ditto ID sent no overall document status",
                )),
            }
            for e in &status.error_list.0 {
                flags.push(Flag::new(
                    "ditto_error",
                    Severity::Error,
                    format!("Ditto ID reports: {e}"),
                ));
            }
            for c in &status.checks_performed {
                let st = c.check_status.as_deref().unwrap_or("").trim();
                if st == "ERROR" || st == "NOT DONE" {
                    flags.push(Flag::new(
                        "check_failed",
                        Severity::Error,
                        format!(
                            "Check \"{}\" is {st}",
                            c.check_name.as_deref().unwrap_or("?")
                        ),
                    ));
                }
            }
        }
    }
    flags
}

/// True when no flag is a warning or an error.
pub fn is_clean(flags: &[Flag]) -> bool {
    flags.iter().all(|f| f.severity == Severity::Info)
}

/// Says what a custom (template) body carried and what the desk has to do without.
pub fn custom_body_flag(c: &CustomBody) -> Flag {
    Flag::new(
        "custom_body",
        Severity::Info,
        format!(
            "Custom request body: carries {}; missing {}",
            if c.carried.is_empty() {
                "nothing mapped".to_string()
            } else {
                c.carried.join(", ")
            },
            if c.missing.is_empty() {
                "nothing".to_string()
            } else {
                c.missing.join(", ")
            }
        ),
    )
}
