//! KYC Desk's own view of a submission: flags with a severity and a one-line explanation.
//! Ditto ID lets users "continue anyway", so nothing the sender concludes is taken on trust.

use crate::case::NewDecision;
use crate::flag::{Flag, Severity};
use crate::model::Payload;
use crate::policy::{AutoApprove, DecisionConfig, Reason};
use crate::submission::{Coercion, CustomBody, Image, Submission};

/// A decision that does not say enough for itself; the message says what is missing (codes,
/// never personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unjustified(pub String);

/// Runs the checks on a submission. A case is "clean" when no flag is a warning or an error.
pub fn evaluate(p: &Payload, policy: &DecisionConfig, received: time::Date) -> Vec<Flag> {
    let mut flags = document_checks(p, policy, received);
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
            if status.is_nfc_document == Some(true) {
                let st = status.nfc_scan_status.as_deref().unwrap_or("").trim();
                let read =
                    st.to_ascii_uppercase().contains("SUCCESS") || st.eq_ignore_ascii_case("OK");
                if !read {
                    flags.push(Flag::new(
                        "nfc_not_read",
                        Severity::Warning,
                        format!(
                            "The document has a chip, but it was not read ({})",
                            if st.is_empty() {
                                "no NFC status sent"
                            } else {
                                st
                            }
                        ),
                    ));
                }
            }
            if let Some(f) = p.document().and_then(field_status_flag) {
                flags.push(f);
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

/// Names the fields Ditto ID's own `field_status` marks as ERROR ("Surname (Latvian)").
fn field_status_flag(doc: &crate::model::Document) -> Option<Flag> {
    let mut failed: Vec<String> = Vec::new();
    for (locale, fields) in &doc.identity_data_details {
        for f in fields {
            let status = f
                .field_details
                .as_ref()
                .and_then(|d| d.field_status.as_ref())
                .map(|t| t.0.trim());
            if status.is_some_and(|s| s.eq_ignore_ascii_case("ERROR")) {
                let name = f.field_name.as_deref().unwrap_or("?").trim();
                let label = crate::labels::field_label(doc, locale, name);
                if !failed.contains(&label) {
                    failed.push(label);
                }
            }
        }
    }
    (!failed.is_empty()).then(|| {
        Flag::new(
            "field_status",
            Severity::Error,
            format!("Ditto ID marks as ERROR: {}", failed.join(", ")),
        )
    })
}

/// True when no flag is a warning or an error.
pub fn is_clean(flags: &[Flag]) -> bool {
    flags.iter().all(|f| f.severity == Severity::Info)
}

/// Whether an approval of a case with these flags needs a second person's (`four_eyes`: a
/// flagged case only).
pub fn needs_second_approval(flags: &[Flag], d: &DecisionConfig) -> bool {
    d.four_eyes && !is_clean(flags)
}

/// The reasons a case's findings suggest (by each reason's `flags`; warnings and errors only),
/// in the configured order: what reject mode starts with ticked.
pub fn suggested_reasons(flags: &[Flag], reasons: &[Reason]) -> Vec<String> {
    reasons
        .iter()
        .filter(|r| {
            flags
                .iter()
                .any(|f| f.severity != Severity::Info && r.flags.contains(&f.code))
        })
        .map(|r| r.code.clone())
        .collect()
}

/// The reason code that always needs a comment.
pub const OTHER_REASON: &str = "other";

/// What a reviewer's decision must say for itself: approving a case with error findings needs a
/// comment (the override is justified in the record), and so does the reason "Other". The
/// message names the findings (codes), never personal data.
pub fn justification(
    approve: bool,
    reasons: &[String],
    comment: &str,
    flags: &[Flag],
) -> Result<(), Unjustified> {
    let said = !comment.trim().is_empty();
    if said {
        return Ok(());
    }
    let errors: Vec<&str> = flags
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code.as_str())
        .collect();
    if approve && !errors.is_empty() {
        return Err(Unjustified(format!(
            "comment: approving a case with error findings ({}) needs a comment saying why",
            errors.join(", ")
        )));
    }
    if reasons.iter().any(|r| r == OTHER_REASON) {
        return Err(Unjustified(
            "comment: the reason \"other\" needs a comment saying what it is".into(),
        ));
    }
    Ok(())
}

/// Names the images the desk cannot show (stored as sent and downloadable all the same).
pub fn unreadable_images_flag(images: &[Image]) -> Option<Flag> {
    let problems: Vec<String> = images
        .iter()
        .filter_map(|i| i.problem.as_ref().map(|p| format!("{}: {p}", i.name)))
        .collect();
    (!problems.is_empty()).then(|| {
        Flag::new(
            "image_unreadable",
            Severity::Warning,
            format!(
                "Image could not be shown (kept as sent; download it from the case): {}",
                problems.join("; ")
            ),
        )
    })
}

/// Says which values of an unexpected type the tolerant reader coerced or set aside.
pub fn coerced_flag(notes: &[Coercion]) -> Flag {
    let listed: Vec<String> = notes
        .iter()
        .take(20)
        .map(|c| format!("{} {}", c.field, c.note))
        .collect();
    let more = notes.len().saturating_sub(listed.len());
    Flag::new(
        "payload_coerced",
        Severity::Info,
        format!(
            "Ditto ID sent values of an unexpected type: {}{}",
            listed.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ),
    )
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

/// The document's own checks (MRZ check digits and cross-source comparison, dates, age).
fn document_checks(p: &Payload, policy: &DecisionConfig, received: time::Date) -> Vec<Flag> {
    let rules = crate::idcheck::DocumentPolicy {
        expiring_days: policy.expiring_days,
        minimum_age: policy.minimum_age,
    };
    crate::idcheck::document_flags(p, received, &rules)
}

/// What the store already knows about this person and document.
/// A custom body that named no user (its template has no user-id macro, and no
/// `receiver.default_user_id` is set).
pub fn user_id_missing_flag(sub: &Submission) -> Option<Flag> {
    sub.user_id.is_empty().then(|| {
        Flag::new(
            "user_id_missing",
            Severity::Warning,
            "The body names no user (Ditto ID's template has no user-id macro and no \
             receiver.default_user_id is set): the answer leaves user_id out, unless the \
             reviewer links the case to a customer id",
        )
    })
}

/// The policy's automatic decision for these flags, if any: a configured auto-reject flag wins;
/// otherwise `auto_approve = "clean"` approves a case with no warning or error.
pub fn automatic_decision(flags: &[Flag], d: &DecisionConfig) -> Option<NewDecision> {
    if let Some(f) = flags
        .iter()
        .find(|f| d.auto_reject.iter().any(|c| c == &f.code))
    {
        return Some(NewDecision {
            approve: false,
            reasons: vec![f.code.clone()],
            comment: format!("Rejected automatically: {}", f.message),
            by_user: None,
            rule: Some(format!("auto_reject:{}", f.code)),
            link_user_id: None,
            respect_assignment: false,
        });
    }
    if d.auto_approve == AutoApprove::Clean && is_clean(flags) {
        return Some(NewDecision {
            approve: true,
            reasons: Vec::new(),
            comment: "Approved automatically: every check passed".into(),
            by_user: None,
            rule: Some("auto_approve:clean".into()),
            link_user_id: None,
            respect_assignment: false,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_flagged_case_needs_a_second_approval_and_only_with_four_eyes() {
        let info = [Flag::new("user_seen_before", Severity::Info, "")];
        let warning = [Flag::new("document_reused", Severity::Warning, "")];
        for (four_eyes, flags, needs) in [
            (true, &warning[..], true),
            (true, &info[..], false),
            (true, &[][..], false),
            (false, &warning[..], false),
        ] {
            let d = DecisionConfig {
                four_eyes,
                ..DecisionConfig::default()
            };
            assert_eq!(
                needs_second_approval(flags, &d),
                needs,
                "{four_eyes} {flags:?}"
            );
        }
    }

    #[test]
    fn findings_suggest_their_reasons_in_the_configured_order() {
        let reasons = DecisionConfig::default().reasons;
        let f = |code: &str, sev| Flag::new(code, sev, "");
        let table: &[(&[Flag], &[&str])] = &[
            (&[], &[]),
            (
                &[f("document_expired", Severity::Error)],
                &["document_expired"],
            ),
            (
                &[
                    f("mrz_check_digit", Severity::Error),
                    f("face_mismatch", Severity::Error),
                ],
                &["face_mismatch", "suspected_tampering"],
            ),
            (
                &[f("document_reused", Severity::Warning)],
                &["suspected_tampering"],
            ),
            // Information suggests nothing; unmapped findings neither.
            (
                &[
                    f("document_reused", Severity::Info),
                    f("ditto_error", Severity::Error),
                ],
                &[],
            ),
        ];
        for (flags, want) in table {
            assert_eq!(suggested_reasons(flags, &reasons), *want, "{flags:?}");
        }
    }

    #[test]
    fn overrides_and_other_need_a_comment() {
        let error = Flag::new("face_mismatch", Severity::Error, "faces differ");
        let warning = Flag::new("document_expiring", Severity::Warning, "soon");
        let other = vec![OTHER_REASON.to_string()];
        let expired = vec!["document_expired".to_string()];
        let (errors, warnings) = (vec![error.clone()], vec![warning]);
        // (approve, reasons, comment, flags, accepted)
        type Row<'a> = (bool, &'a [String], &'a str, &'a [Flag], bool);
        let table: &[Row] = &[
            (true, &[], "", &[], true),
            (true, &[], "", &warnings, true),
            (true, &[], "", &errors, false),
            (true, &[], "  ", &errors, false),
            (true, &[], "checked by phone", &errors, true),
            (false, &expired, "", &errors, true),
            (false, &other, "", &[], false),
            (false, &other, "customer asked", &[], true),
        ];
        for (approve, reasons, comment, flags, ok) in table {
            let got = justification(*approve, reasons, comment, flags);
            assert_eq!(
                got.is_ok(),
                *ok,
                "{approve} {reasons:?} {comment:?} {flags:?}: {got:?}"
            );
            if let Err(e) = got {
                assert!(e.to_string().starts_with("comment:"), "{e}");
            }
        }
        let err = justification(true, &[], "", &[error])
            .unwrap_err()
            .to_string();
        assert!(err.contains("face_mismatch"), "{err}");
    }
    use serde_json::json;

    #[test]
    fn fields_ditto_id_marks_as_error_are_a_finding() {
        let field = |name: &str, status: &str| json!({"field_name": name, "field_details": {"field_status": status, "field_value": "x"}});
        let p: Payload = serde_json::from_value(json!({"kyc_info": {"document": {
            "document_status": {"overall_document_status": "OK"},
            "document_info": {"field_locales": {"0": "Latin", "1062": "Latvian"}},
            "identity_data_details": {
                "0": [field("Surname", "ERROR"), field("Given names", "OK"), field("Sex", "WARNING")],
                "1062": [field("Surname", " error "), field("Date of birth", "NOT DONE")],
            }
        }}}))
        .unwrap();
        let found: Vec<Flag> = evaluate(
            &p,
            &DecisionConfig::default(),
            time::macros::date!(2026 - 01 - 01),
        )
        .into_iter()
        .filter(|f| f.code == "field_status")
        .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            found[0].message,
            "Ditto ID marks as ERROR: Surname, Surname (Latvian)"
        );
        // No ERROR, no finding.
        let mut clean = p.clone();
        let doc = clean.kyc_info.as_mut().unwrap().document.as_mut().unwrap();
        doc.identity_data_details.remove("1062");
        doc.identity_data_details.get_mut("0").unwrap().remove(0);
        assert!(field_status_flag(doc).is_none());
    }
}
